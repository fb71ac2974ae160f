package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.delivery.DnsmasqServer;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bounce a web app's sender gets when the recipient's MX answers 550, as Postfix
 * writes it: its Message-ID is in the relay's own name ({@code smtpd.hostname}, the name
 * of the greeting), and {@code Remote-MTA} names the MX host that answered, not the
 * recipient's domain. Direct MX delivery through a real dnsmasq to a real upstream.
 */
class FirstHourBounceTest {

    @Test
    void bounceNamesTheRelayAndTheMxHostThatAnswered(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS, Tools.DNSMASQ);
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        try (AiosmtpdUpstream mx = AiosmtpdUpstream.builder(dir.resolve("up")).reject("^nobody@").start();
             DnsmasqServer dns = DnsmasqServer.start(dir, "--mx-host=example.test,mx1.example.test,10",
                     "--host-record=mx1.example.test,127.0.0.1", "--local=/example.test/")) {
            int smtp = Ports.free();
            // The transport entry only moves MX delivery off port 25 (binding it needs root);
            // an unbracketed next hop still takes example.test's MX.
            String yaml = NodeYaml.in(dir.resolve("node"), smtp).with("""
                    smtpd:
                      hostname: relay1.firsthour.test
                    smtp:
                      default-transport: smtp
                      dns-servers: ["127.0.0.1:%d"]
                      transport-maps:
                        example.test: "smtp:example.test:%d"
                    """.formatted(dns.port(), mx.port()));
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
                Tools.Run swaks = Tools.swaks(smtp, "--from", "app@example.test", "--to", "nobody@example.test");
                assertEquals(0, swaks.exit(), swaks.output());

                AiosmtpdUpstream.Received dsn = mx.awaitMessage(m -> m.sender().isEmpty() || m.sender().equals("<>"),
                        Duration.ofSeconds(60)).orElse(null);
                assertTrue(dsn != null, "no bounce reached the sender's MX; mail log:\n" + node.mailLog());
                assertEquals(List.of("app@example.test"), dsn.recipients());
                String text = dsn.text();
                assertTrue(Pattern.compile("(?mi)^Message-ID: <[^>@\\s]+@relay1\\.firsthour\\.test>\\r?$")
                        .matcher(text).find(), "Message-ID in smtpd.hostname's name:\n" + text);
                assertTrue(text.contains("Reporting-MTA: dns; relay1.firsthour.test"), text);
                assertTrue(text.contains("Remote-MTA: dns; mx1.example.test\r\n"), "the MX host that answered:\n" + text);
                assertTrue(text.contains("Diagnostic-Code: smtp; 550"), text);
            }
        }
    }
}
