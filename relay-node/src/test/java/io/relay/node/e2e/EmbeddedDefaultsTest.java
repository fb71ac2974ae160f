package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's first command: the node with no --config listens on 127.0.0.1:2525 and writes
 * each delivered message as an .eml file into var/mail/, so a newcomer sees mail flow
 * with no upstream.
 */
class EmbeddedDefaultsTest {

    @Test
    void newcomerSeesMailInVarMail(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS);
        try (NodeProcess node = NodeProcess.startWithArgs(dir, List.of(), 2525)) {
            // a web app's message with no Date: and no Message-ID:
            Process swaks = new ProcessBuilder(Tools.SWAKS, "--server", "127.0.0.1:2525", "--from", "app@example.com",
                    "--to", "someone@example.org", "--data", "Subject: hello\n\nfrom the app\n", "--silent", "2")
                    .redirectErrorStream(true).start();
            String out = new String(swaks.getInputStream().readAllBytes());
            assertEquals(0, swaks.waitFor(), out);

            Path mail = dir.resolve("var/mail");
            Path eml = null;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (eml == null && System.nanoTime() < deadline) {
                if (Files.isDirectory(mail)) {
                    try (Stream<Path> files = Files.list(mail)) {
                        eml = files.filter(p -> p.toString().endsWith(".eml")).findFirst().orElse(null);
                    }
                }
                Thread.sleep(100);
            }
            assertTrue(eml != null, "an .eml file in var/mail; node stderr:\n" + node.stderr());
            String text = Files.readString(eml);
            assertTrue(text.contains("Received: from "), text);
            assertTrue(text.toLowerCase().contains("\nmessage-id: <"), "Message-ID added: " + text);
            assertTrue(text.contains("\nDate: "), "Date added: " + text);
            assertTrue(text.contains("from the app"), text);
            String log = Files.readString(dir.resolve("node.out"));
            assertTrue(log.contains("status=sent"), "mail log on stdout: " + log);
        }
    }
}
