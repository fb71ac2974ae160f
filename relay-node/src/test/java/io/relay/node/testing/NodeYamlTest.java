package io.relay.node.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.relay.node.config.ConfigLoader;
import io.relay.node.config.HostPort;
import io.relay.node.config.RelayConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a node reads from a test's YAML: the operator's keys as written, the plumbing where they are silent. */
class NodeYamlTest {
    private final NodeYaml plumbing = new NodeYaml(Path.of("/tmp/t/node"), 2601, 2602, 2603);

    @Test
    void theOperatorsKeysReachTheNodeAsWrittenBesideThePlumbing() {
        RelayConfig c = ConfigLoader.parse(plumbing.with("""
                smtpd:
                  hostname: relay1.firsthour.test
                  forbid-bare-newline: no
                  mynetworks: [127.0.0.1/32]
                smtp:
                  relayhost: "[127.0.0.1]:2525"
                  transport-maps:
                    later.test: "direct:"
                  transports:
                    direct: {fallback-relay: []}
                queue:
                  minimal-backoff-time: 1s
                """), "t.yaml");
        assertEquals(List.of(new HostPort("127.0.0.1", 2601)), c.smtpd.listen);
        assertEquals("relay1.firsthour.test", c.smtpd.hostname);
        assertEquals("no", c.smtpd.forbidBareNewline, "a YAML 1.1 boolean word stays the operator's string");
        assertEquals(List.of("127.0.0.1/32"), c.smtpd.mynetworks);
        assertEquals("[127.0.0.1]:2525", c.smtp.relayhost);
        assertEquals(Duration.ofSeconds(1), c.queue.minimalBackoffTime);
        assertEquals(Path.of("/tmp/t/node/spool"), c.queue.spoolDir);
        assertEquals(new HostPort("127.0.0.1", 2602), c.health.listen);
        assertEquals(new HostPort("127.0.0.1", 2603), c.cluster.listen);
        assertEquals(Path.of("/tmp/t/node/mail.log"), c.log.file);
    }

    @Test
    void aKeyTheOperatorSetsWinsOverThePlumbing() {
        RelayConfig c = ConfigLoader.parse(plumbing.with("""
                queue:
                  spool-dir: plain-file/spool
                log:
                  file: plain-file/mail.log
                cluster:
                  listen: 127.0.0.1:2699
                """), "t.yaml");
        assertEquals(Path.of("plain-file/spool"), c.queue.spoolDir);
        assertEquals(Path.of("plain-file/mail.log"), c.log.file);
        assertEquals(new HostPort("127.0.0.1", 2699), c.cluster.listen);
        assertEquals(new HostPort("127.0.0.1", 2602), c.health.listen);
    }

    @Test
    void anEmptyTextIsThePlumbingAlone() {
        RelayConfig c = ConfigLoader.parse(plumbing.with(""), "t.yaml");
        assertEquals(List.of(new HostPort("127.0.0.1", 2601)), c.smtpd.listen);
        assertEquals(Path.of("/tmp/t/node/spool"), c.queue.spoolDir);
    }
}
