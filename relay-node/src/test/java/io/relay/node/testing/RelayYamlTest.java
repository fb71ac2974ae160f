package io.relay.node.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.relay.node.config.ConfigLoader;
import io.relay.node.config.HostPort;
import io.relay.node.config.RelayConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a node reads from a config built with RelayYaml: every call's keys, nested keys and blocks. */
class RelayYamlTest {
    private final NodeYaml plumbing = new NodeYaml(Path.of("/tmp/t/node"), 2601, 2602, 2603);

    @Test
    void aClusterNodeRelayingToASinkReadsAsWritten() {
        RelayConfig c = ConfigLoader.parse(plumbing.with(RelayYaml.relayingTo(2525)
                .listen(2601, 2604).hostname("a.relay.test").proxyProtocol(false)
                .block("smtp", """
                        transport-maps:
                          b.example: "smtp:[127.0.0.1]:2526"
                        """)
                .quickRetries().set("queue.delivery-concurrency", 8).drain("0s", "10s")
                .cluster("e2e", List.of("127.0.0.1:2603", "127.0.0.1:2613"))
                .block("cluster", "heartbeat-timeout: 5s\nmerge-delay: 5s")
                .admin(2605, Path.of("/tmp/t/admin.token")).text()), "t.yaml");
        assertEquals(List.of(new HostPort("127.0.0.1", 2601), new HostPort("127.0.0.1", 2604)), c.smtpd.listen);
        assertEquals("a.relay.test", c.smtpd.hostname);
        assertEquals(List.of("127.0.0.0/8"), c.smtpd.mynetworks);
        assertEquals(List.of("127.0.0.0/8"), c.smtpd.proxyProtocol.trustedNetworks);
        assertFalse(c.smtpd.proxyProtocol.required);
        assertEquals("smtp", c.smtp.defaultTransport);
        assertEquals("[127.0.0.1]:2525", c.smtp.relayhost);
        assertEquals("none", c.smtp.tlsSecurityLevel);
        assertEquals(Map.of("b.example", "smtp:[127.0.0.1]:2526"), c.smtp.transportMaps);
        assertEquals(Duration.ofSeconds(1), c.queue.minimalBackoffTime);
        assertEquals(Duration.ofSeconds(2), c.queue.maximalBackoffTime);
        assertEquals(8, c.queue.deliveryConcurrency);
        assertEquals(Duration.ZERO, c.health.drainDelay);
        assertEquals(Duration.ofSeconds(10), c.health.drainTimeout);
        assertEquals("e2e", c.cluster.name);
        assertEquals(List.of("127.0.0.1:2603", "127.0.0.1:2613"), c.cluster.members);
        assertEquals(new HostPort("127.0.0.1", 2603), c.cluster.listen);
        assertEquals(Duration.ofSeconds(5), c.cluster.heartbeatTimeout);
        assertEquals(Duration.ofSeconds(5), c.cluster.mergeDelay);
        assertEquals(new HostPort("127.0.0.1", 2605), c.admin.listen);
        assertEquals(Path.of("/tmp/t/admin.token"), c.admin.tokenFile);
        assertEquals(Path.of("/tmp/t/node/spool"), c.queue.spoolDir);
        assertEquals(Path.of("/tmp/t/node/mail.log"), c.log.file);
    }

    @Test
    void nestedKeysAndVerbatimValues() {
        String text = RelayYaml.create().set("smtp.default-transport", "\"discard:\"")
                .set("smtp.transports.ses.tls-security-level", "encrypt")
                .set("smtp.transports.ses.fallback-relay", "[]")
                .set("smtpd.forbid-bare-newline", "no").text();
        assertEquals("""
                smtp:
                  default-transport: "discard:"
                  transports:
                    ses:
                      tls-security-level: encrypt
                      fallback-relay: []
                smtpd:
                  forbid-bare-newline: no
                """, text);
        RelayConfig c = ConfigLoader.parse(plumbing.with(text), "t.yaml");
        assertEquals("discard:", c.smtp.defaultTransport);
        assertEquals("no", c.smtpd.forbidBareNewline);
        assertEquals(List.of(), c.smtp.transports.get("ses").fallbackRelay);
    }
}
