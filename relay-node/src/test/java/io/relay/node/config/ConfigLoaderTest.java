package io.relay.node.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.queue.ClusterSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {

    @Test
    void emptyFileMeansEmbeddedDefaults() {
        RelayConfig c = ConfigLoader.embeddedDefaults();
        assertEquals(List.of(new HostPort("127.0.0.1", 2525)), c.smtpd.listen);
        assertEquals(new HostPort("127.0.0.1", 8080), c.health.listen);
        assertEquals(List.of("127.0.0.0/8", "::1/128"), c.smtpd.mynetworks);
        assertEquals(10L * 1024 * 1024, c.smtpd.messageSizeLimit);
        assertEquals(Duration.ofSeconds(300), c.smtpd.timeout);
        assertEquals(1000, c.smtpd.recipientLimit);
        assertEquals(Duration.ofDays(5), c.queue.maximalQueueLifetime);
        assertEquals("file:var/mail", c.smtp.defaultTransport);
        // bodies live on disk: only the index-memory mark follows the heap
        assertEquals(Long.MAX_VALUE, c.queue.maxBytes);
        assertEquals(Long.MAX_VALUE, c.queue.maxMessages);
        assertEquals((long) (Runtime.getRuntime().maxMemory() * 0.7), c.queue.maxIndexMemory);
    }

    @Test
    void queueMarksNoLongerFollowTheHeapButTheIndexMemoryMarkDoes() {
        long gib = 1L << 30;
        assertEquals((long) (gib * 0.7), io.relay.queue.QueueSettings.defaultMaxIndexMemory(gib));
        assertEquals(12345L, ConfigLoader.parse("queue:\n  max-bytes: 12345\n", "q.yaml").queue.maxBytes);
        assertEquals(1L << 28, ConfigLoader.parse("queue:\n  max-index-memory: 268435456\n", "q.yaml")
                .queue.maxIndexMemory);
    }

    @Test
    void contractKeysBind() {
        RelayConfig c = ConfigLoader.parse("""
                smtpd:
                  listen: ["0.0.0.0:25", "[::1]:2525"]
                  hostname: relay.example.com
                  message-size-limit: 1048576
                  mynetworks: [10.0.0.0/16, "2001:db8::/32"]
                smtp:
                  relayhost: "[email-smtp.us-east-1.amazonaws.com]:587"
                  tls-security-level: encrypt
                queue:
                  spool-dir: /var/spool/relay
                  maximal-backoff-time: 4000s
                  minimal-backoff-time: 5m
                health:
                  listen: 0.0.0.0:8080
                log:
                  file: /var/log/relay.log
                """, "t.yaml");
        assertEquals(List.of(new HostPort("0.0.0.0", 25), new HostPort("::1", 2525)), c.smtpd.listen);
        assertEquals("relay.example.com", c.smtpd.hostname);
        assertEquals(1048576, c.smtpd.messageSizeLimit);
        assertEquals("[email-smtp.us-east-1.amazonaws.com]:587", c.smtp.relayhost);
        assertEquals(Duration.ofMinutes(5), c.queue.minimalBackoffTime);
        assertEquals(Path.of("/var/log/relay.log"), c.log.file);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            smtpd: {lisen: ['127.0.0.1:25']}                  | t.yaml: unknown key 'smtpd.lisen'
            smtpd: {listen: ['127.0.0.1']}                    | t.yaml: smtpd.listen[0]: not host:port: '127.0.0.1'
            smtpd: {listen: ['127.0.0.1:99999']}              | t.yaml: smtpd.listen[0]: port out of range in '127.0.0.1:99999'
            smtpd: {timeout: 5x}                              | t.yaml: smtpd.timeout: not a duration: '5x' (write e.g. 300s, 5m, 4000s, 5d)
            smtpd: {mynetworks: [10.0.0.0/33]}                | t.yaml: smtpd.mynetworks: '10.0.0.0/33' is not a CIDR network
            smtpd: {mynetworks: [10.0.0.1/8]}                 | t.yaml: smtpd.mynetworks: '10.0.0.1/8' has host bits set; the network is 10.0.0.0/8
            smtpd: {message-size-limit: -1}                   | t.yaml: smtpd.message-size-limit: must be a positive number of bytes
            smtpd: {message-size-limit: ten}                  | t.yaml: smtpd.message-size-limit: 'ten' is not a valid long
            smtpd: {io-threads: -1}                           | t.yaml: smtpd.io-threads: must be between 0 (half the available cores) and 256
            smtp: {tls-security-level: paranoid}              | t.yaml: smtp.tls-security-level: 'paranoid' is not one of none, may, encrypt, verify, secure
            smtp: {sasl-password-file: /nonexistent/sasl}     | t.yaml: smtp.sasl-password-file: cannot read /nonexistent/sasl
            admin: {tls: {cert-file: /etc/hostname}}          | t.yaml: admin.tls.key-file: admin.tls.cert-file and admin.tls.key-file are set together or not at all
            admin: {tls: {cert-file: /nonexistent/c.pem, key-file: /nonexistent/k.pem}} | t.yaml: admin.tls.cert-file: cannot read /nonexistent/c.pem
            dkim: {key-encryption-key-file: /nonexistent/kek} | t.yaml: dkim.key-encryption-key-file: cannot read /nonexistent/kek
            dkim: {key-encryption-key-file: /etc/hostname}    | t.yaml: dkim.key-encryption-key-file: /etc/hostname: readable by group or others; chmod 600 it
            admin: {tls: {cert: /etc/hostname}}               | t.yaml: unknown key 'admin.tls.cert'
            queue: {minimal-backoff-time: 1h, maximal-backoff-time: 10m} | t.yaml: queue.maximal-backoff-time: must not be shorter than queue.minimal-backoff-time
            'smtpd: [a, b]'                                   | t.yaml: smtpd: expected a mapping of keys
            'smtpd: {mynetworks: 10.0.0.0/8, listen: {a: b}}' | t.yaml: smtpd.listen[0]: expected a text value
            """)
    void badValuesNameTheKeyAndTheReason(String yaml, String expectedStart) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "t.yaml"));
        assertTrue(e.getMessage().startsWith(expectedStart), () -> "got: " + e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
    }

    @ParameterizedTest
    @CsvSource({"300s,300", "5m,300", "4000s,4000", "5d,432000", "2h,7200", "1w,604800", "17,17"})
    void postfixDurations(String text, long seconds) {
        assertEquals(Duration.ofSeconds(seconds), Durations.parse(text));
    }

    @Test
    void dkimSigningKeys() {
        RelayConfig ok = ConfigLoader.parse("""
                dkim:
                  fallback-domain: relay.example.net
                  required: [bank.example, Shop.Example.]
                smtp:
                  transports:
                    selfsigning: { nexthop: "[127.0.0.1]:2525", dkim: off }
                    signing: { nexthop: "[127.0.0.1]:2526", dkim: on }
                    plain: { nexthop: "[127.0.0.1]:2527" }
                """, "t.yaml");
        assertTrue(ConfigLoader.problems(ok).list().stream().noneMatch(l -> l.contains("dkim")),
                ConfigLoader.problems(ok).list().toString());
        assertFalse(ok.smtp.transports.get("selfsigning").dkimSigns());
        assertTrue(ok.smtp.transports.get("signing").dkimSigns());
        assertTrue(ok.smtp.transports.get("plain").dkimSigns());
        assertEquals("t.yaml: smtp.transports.t.dkim: 'sometimes' is not one of on, off",
                assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                        "smtp:\n  transports:\n    t: { nexthop: \"[127.0.0.1]:2525\", dkim: sometimes }\n", "t.yaml"))
                        .getMessage());
        assertEquals("t.yaml: dkim.fallback-domain: must be a domain name", assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("dkim:\n  fallback-domain: \"not a domain\"\n", "t.yaml")).getMessage());
        assertEquals("t.yaml: dkim.required: '[127.0.0.1]' is not a domain name", assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("dkim:\n  required: [\"[127.0.0.1]\"]\n", "t.yaml")).getMessage());
    }

    @Test
    void brokenYamlIsOneLine() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("smtpd:\n  hostname: 'unterminated\n", "t.yaml"));
        assertTrue(e.getMessage().startsWith("t.yaml: not valid YAML"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
    }

    @Test
    void missingFileIsOneLine() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(Path.of("/nonexistent/relay.yaml")));
        assertEquals("/nonexistent/relay.yaml: no such file", e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            cluster: {listen: 203.0.113.5:5701}                 | t.yaml: cluster.listen: 203.0.113.5:5701 is a public address; member traffic is unencrypted — bind it to a private network or set cluster.allow-public-bind: true
            cluster: {listen: '[2001:db8::5]:5701'}             | t.yaml: cluster.listen: [2001:db8::5]:5701 is a public address;
            cluster: {listen: 0.0.0.0:5701}                     | t.yaml: cluster.listen: 0.0.0.0:5701 binds every interface, public ones included;
            cluster: {listen: ':5701'}                          | t.yaml: cluster.listen: 0.0.0.0:5701 binds every interface
            cluster: {listen: '[::]:5701'}                      | t.yaml: cluster.listen: [::]:5701 binds every interface
            cluster: {listen: relay1.example.com:5701}          | t.yaml: cluster.listen: 'relay1.example.com:5701' needs an IP address
            cluster: {heartbeat-timeout: 0s}                    | t.yaml: cluster.heartbeat-timeout: must be at least 1s
            cluster: {merge-delay: soon}                        | t.yaml: cluster.merge-delay: not a duration: 'soon'
            cluster: {discovery: consul}                        | t.yaml: cluster.discovery: 'consul' is not one of tcp, aws, kubernetes
            cluster: {discovery: aws, members: [10.0.0.2:5701]} | t.yaml: cluster.members: static members are for cluster.discovery: tcp (it is aws)
            cluster: {kubernetes: {namespace: mail}}            | t.yaml: cluster.kubernetes: set, but cluster.discovery is tcp
            cluster: {allow-public-bind: maybe}                 | t.yaml: cluster.allow-public-bind: 'maybe' is not a valid boolean
            """)
    void clusterMembershipMistakesAreOneLine(String yaml, String expectedStart) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "t.yaml"));
        assertTrue(e.getMessage().startsWith(expectedStart), () -> "got: " + e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
    }

    @ParameterizedTest
    @CsvSource({"127.0.0.1", "10.1.2.3", "172.31.255.1", "192.168.0.9", "100.64.0.1", "169.254.10.10", "[::1]",
            "[fd00:ab::1]", "[fe80::1]"})
    void privateClusterAddressesAreAccepted(String host) {
        RelayConfig c = ConfigLoader.parse("cluster: {listen: '" + host + ":5701'}", "t.yaml");
        assertEquals(5701, c.cluster.listen.port());
    }

    @Test
    void publicClusterBindIsAllowedWhenSaidSo() {
        RelayConfig c = ConfigLoader.parse("""
                cluster:
                  listen: 0.0.0.0:5701
                  allow-public-bind: true
                """, "t.yaml");
        assertTrue(c.cluster.allowPublicBind);
        assertTrue(c.cluster.settings(1).bindsAny());
    }

    @Test
    void clusterDefaultsAndKeysBindToTheMemberSettings() {
        ClusterSettings defaults = ConfigLoader.parse("", "t.yaml").cluster.settings(1);
        assertEquals(Duration.ofSeconds(60), defaults.heartbeatTimeout());
        assertEquals(Duration.ofSeconds(120), defaults.mergeDelay());
        assertEquals(ClusterSettings.Discovery.tcp(), defaults.discovery());

        RelayConfig c = ConfigLoader.parse("""
                cluster:
                  name: mail
                  listen: 10.0.1.5:5701
                  heartbeat-timeout: 5s
                  merge-delay: 1m
                  discovery: aws
                  aws:
                    region: eu-west-1
                    tag-key: relay-cluster
                    tag-value: prod
                    hz-port: "5701"
                """, "t.yaml");
        ClusterSettings s = c.cluster.settings(2);
        assertEquals("mail", s.clusterName());
        assertEquals("10.0.1.5:5701", s.self());
        assertEquals(2, s.backupCount());
        assertEquals(Duration.ofSeconds(5), s.heartbeatTimeout());
        assertEquals(Duration.ofMinutes(1), s.mergeDelay());
        assertEquals(ClusterSettings.Discovery.aws(Map.of("region", "eu-west-1", "tag-key", "relay-cluster",
                "tag-value", "prod", "hz-port", "5701")), s.discovery());

        ClusterSettings k8s = ConfigLoader.parse("""
                cluster:
                  listen: 10.244.0.7:5701
                  discovery: kubernetes
                  kubernetes: {namespace: mail, service-name: relay-hz}
                """, "t.yaml").cluster.settings(1);
        assertEquals(ClusterSettings.Discovery.kubernetes(Map.of("namespace", "mail", "service-name", "relay-hz")),
                k8s.discovery());
    }
}
