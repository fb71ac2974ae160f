package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 items 1 and 12, from a node's start: a configuration written as a Postfix operator
 * writes it (a relayhost, nothing about the default transport) delivers to that relayhost,
 * not to var/mail; a configuration that captures or throws mail away, or allows an open relay
 * on purpose, says so in a WARN line at start.
 */
class FirstHourConfigTest {

    @Test
    void aRelayhostAloneDeliversToTheRelayhostNotToVarMail(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS);
        Tools.require(Tools.SMTP_SINK);
        int smtp = Ports.free();
        try (UpstreamSink upstream = UpstreamSink.start(dir.resolve("upstream"))) {
            // all an operator writes: smtp.relayhost (NodeYaml adds this machine's ports, spool and log)
            Path nodeDir = dir.resolve("node");
            String yaml = NodeYaml.in(nodeDir, smtp).with("""
                    smtp:
                      relayhost: "[127.0.0.1]:%d"
                    """.formatted(upstream.port()));
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp)) {
                Tools.Run swaks = Tools.swaks(smtp, "--from", "app@example.com", "--to", "someone@example.org",
                        "--header", "Subject: first hour");
                assertEquals(0, swaks.exit(), swaks.output());
                assertEquals(1, upstream.awaitMessages(1, Duration.ofSeconds(30)),
                        "the message reaches the relayhost; node stderr:\n" + node.stderr());
                assertFalse(Files.exists(nodeDir.resolve("var/mail")), "nothing captured in var/mail");
                assertFalse(node.stderr().contains("smtp.default-transport"), "no warning for smtp:\n" + node.stderr());
            }
        }
    }

    @Test
    void aFileTransportAndAnAllowedOpenRelayAreWarnedAtStart(@TempDir Path dir) throws Exception {
        int smtp = Ports.free();
        String yaml = NodeYaml.in(dir.resolve("node"), smtp).with("""
                smtpd:
                  mynetworks: [0.0.0.0/0]
                  allow-open-relay: true
                smtp:
                  default-transport: file:captured
                """);
        try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
            String err = node.stderr();
            assertTrue(err.matches("(?s).* WARN .*relay\\.yaml: smtp\\.default-transport is 'file:captured': mail is"
                    + " written to captured as \\.eml files, not delivered.*"), err);
            assertTrue(err.matches("(?s).* WARN .*relay\\.yaml: smtpd\\.mynetworks: 0\\.0\\.0\\.0/0: the whole IPv4"
                    + " address space.* allowed by smtpd\\.allow-open-relay: true.*"), err);
        }
    }
}
