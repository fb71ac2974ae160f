package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import io.relay.queue.testing.Tmpfs;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disk full is a reply, not a crash: a node whose spool is a 64 MB tmpfs with
 * {@code queue.min-free-bytes: 16777216} queues mail while the upstream is down; a filler
 * file takes the free space below the minimum; new mail gets {@code 452 4.3.1} at MAIL FROM
 * (swaks) and at end of DATA (smtplib, whose MAIL came before), /readyz answers 503 naming
 * the reason, and one WARN line says so; the filler removed, mail is accepted again and
 * /readyz is 200; the upstream back, every message that got 250 is delivered.
 */
class DiskFullEndToEndTest {
    private static final long MIB = 1024 * 1024;

    @Test
    void belowMinFreeBytesNewMailGets452AndNothingAcceptedIsLost(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK, Tools.SWAKS, Tools.PYTHON3);
        int smtp = Ports.free();
        int health = Ports.free();
        Path nodeDir = dir.resolve("node");
        try (Tmpfs spool = Tmpfs.mount(nodeDir.resolve("spool"), "64m");
             TaggedSink sink = new TaggedSink(dir.resolve("sink"))) { // not started: the upstream is down
            String yaml = SmartHostEndToEndTest.nodeConfig(new NodeYaml(nodeDir, smtp, health, Ports.free()),
                    "relayhost: \"[127.0.0.1]:"
                    + sink.port() + "\"\ntls-security-level: none")
                    .replace("queue:\n", "queue:\n  min-free-bytes: " + 16 * MIB + "\n");
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp)) {
                LoadClient before = new LoadClient("127.0.0.1", smtp);
                before.run("before", 40, 4, 10, 4096, Duration.ofSeconds(60));
                assertEquals(40, before.acknowledged().size(), "room on the spool: all queued");

                // a session already past MAIL FROM when the disk fills
                Process late = new ProcessBuilder(Tools.PYTHON3, "-c", """
                        import smtplib, sys
                        s = smtplib.SMTP('127.0.0.1', %d, timeout=60)
                        s.ehlo('late.example')
                        s.mail('app@example.com'); s.rcpt('someone@example.net')
                        print('ready', flush=True)
                        sys.stdin.readline()
                        code, msg = s.data(b'Subject: late\\r\\nX-Test-Tag: late-1\\r\\n\\r\\nbody\\r\\n')
                        print(code, msg.decode(), flush=True)
                        s.quit()
                        """.formatted(smtp)).redirectErrorStream(true).start();
                BufferedReader lateOut = new BufferedReader(new InputStreamReader(late.getInputStream(),
                        StandardCharsets.UTF_8));
                assertEquals("ready", lateOut.readLine());

                Path filler = spool.fill("filler", 8 * MIB);
                HttpResponse<String> notReady = awaitReadyz(health, 503, Duration.ofSeconds(10));
                assertTrue(notReady.body().contains("spool-space") && notReady.body().contains("queue.min-free-bytes"),
                        notReady.body());

                String swaks = swaks(smtp);
                assertTrue(swaks.contains("<** 452 4.3.1 Insufficient system storage")
                        && swaks.indexOf("452 4.3.1") > swaks.indexOf("MAIL FROM"), swaks);
                try (OutputStream in = late.getOutputStream()) {
                    in.write('\n');
                }
                String lateReply = lateOut.readLine();
                assertTrue(late.waitFor(30, TimeUnit.SECONDS));
                assertTrue(lateReply.startsWith("452 4.3.1 Insufficient system storage"), "end of DATA: " + lateReply);
                LoadClient during = new LoadClient("127.0.0.1", smtp);
                during.run("during", 10, 2, 5, 4096, Duration.ofSeconds(60));
                assertEquals(0, during.acknowledged().size(), "nothing accepted below the minimum");

                Thread.sleep(2500); // several samples below the minimum: still one WARN line
                String warn = "insufficient spool space";
                assertEquals(1, count(node.stderr() + Files.readString(nodeDir.resolve("node.out")), warn),
                        "one WARN line on the console");
                assertEquals(1, count(Files.readString(nodeDir.resolve("mail.log")), "warning: queue.spool-dir"),
                        "one warning in the mail log");

                Files.delete(filler);
                awaitReadyz(health, 200, Duration.ofSeconds(10));
                assertEquals(1, count(node.stderr() + Files.readString(nodeDir.resolve("node.out")), "free again"));
                LoadClient after = new LoadClient("127.0.0.1", smtp);
                after.run("after", 20, 2, 10, 4096, Duration.ofSeconds(60));
                assertEquals(20, after.acknowledged().size(), "accepted again once space is back");

                sink.start();
                KillNineTest.report("disk full", List.of(before, during, after), sink, Duration.ofSeconds(120));
                assertTrue(!sink.tags().containsKey("late-1"), "the 452 at end of DATA was not queued");
            }
        }
    }

    @Test
    void aNodeStartedBelowTheMinimumStartsNotReadyAndAReloadOfTheMinimumTakesEffect(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK, Tools.SWAKS);
        int smtp = Ports.free();
        int health = Ports.free();
        Path nodeDir = dir.resolve("node");
        try (Tmpfs spool = Tmpfs.mount(nodeDir.resolve("spool"), "64m");
             TaggedSink sink = TaggedSink.started(dir.resolve("sink"))) {
            spool.fill("filler", 8 * MIB);
            String yaml = SmartHostEndToEndTest.nodeConfig(new NodeYaml(nodeDir, smtp, health, Ports.free()),
                    "relayhost: \"[127.0.0.1]:"
                    + sink.port() + "\"\ntls-security-level: none")
                    .replace("queue:\n", "queue:\n  min-free-bytes: " + 16 * MIB + "\n");
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp)) {
                node.awaitStderr("insufficient spool space", Duration.ofSeconds(10));
                HttpResponse<String> notReady = awaitReadyz(health, 503, Duration.ofSeconds(10));
                assertTrue(notReady.body().contains("spool-space"), notReady.body());
                assertTrue(swaks(smtp).contains("<** 452 4.3.1 Insufficient system storage"));

                // queue.min-free-bytes: 0 turns the check off, and a SIGHUP applies it
                Files.writeString(nodeDir.resolve("relay.yaml"),
                        yaml.replace("min-free-bytes: " + 16 * MIB, "min-free-bytes: 0"));
                node.signal("HUP");
                node.awaitStderr("reload: queue.min-free-bytes: " + 16 * MIB + " -> 0 (applied", Duration.ofSeconds(10));
                awaitReadyz(health, 200, Duration.ofSeconds(10));
                LoadClient after = new LoadClient("127.0.0.1", smtp);
                after.run("reloaded", 5, 1, 5, 1024, Duration.ofSeconds(60));
                assertEquals(5, after.acknowledged().size(), "accepted with the check off");
                KillNineTest.report("disk full at start, then reloaded", after, sink, Duration.ofSeconds(60));
            }
        }
    }

    private static String swaks(int port) throws Exception {
        Process p = new ProcessBuilder(Tools.SWAKS, "--server", "127.0.0.1", "--port", String.valueOf(port),
                "--from", "app@example.com", "--to", "someone@example.net", "--timeout", "30")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        return out;
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + what.length())) {
            n++;
        }
        return n;
    }

    private static HttpResponse<String> awaitReadyz(int port, int status, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        HttpResponse<String> r;
        do {
            r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/readyz")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == status) {
                return r;
            }
            Thread.sleep(200);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("/readyz stayed " + r.statusCode() + " (wanted " + status + "): " + r.body());
    }
}
