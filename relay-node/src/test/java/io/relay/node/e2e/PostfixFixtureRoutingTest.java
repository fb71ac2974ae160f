package io.relay.node.e2e;

import static io.relay.node.e2e.SmartHostEndToEndTest.swaks;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.relay.node.delivery.DnsmasqServer;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Ports;
import io.relay.node.testing.PostfixFixture;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamCertificate;
import io.relay.node.testing.UpstreamSink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 3 end to end: each users' Postfix setup (routing/src/test/resources/fixtures) is
 * imported with {@code import-postfix}, the node is started from the YAML it wrote — with
 * only what must differ on a test machine rewritten (table paths, CA file, ports, spool,
 * log, {@code smtp.dns-servers}) — and mail sent with swaks arrives at the upstream that
 * setup intends. Every name resolves through dnsmasq on 127.0.0.1:random to loopback
 * addresses in one random 127.x.y.0/24, so parallel test runs do not collide:
 *
 * <pre>
 *   .3:25   aiosmtpd, STARTTLS+AUTH (account of sasl-ses)   email-smtp.us-east-1.amazonaws.com (A only, no MX)
 *   .3:587  aiosmtpd, STARTTLS+AUTH (account of sasl_passwd) same name, relayhost [..]:587
 *   .4:25   smtp-sink   MX of example.net, example.org; A of nomx.test; second MX of mxdown.test
 *   .5:25   nothing     first MX of mxdown.test
 *   .6:25   smtp-sink   mx.internal.example.co.jp (elb fixture's transport entry)
 *           nullmx.test has a null MX (RFC 7505)
 * </pre>
 *
 * Direct MX delivery connects to port 25 and the relayhost form to 587, so the upstreams
 * bind those ports (the tests run as root).
 */
class PostfixFixtureRoutingTest {
    static final String SES = "email-smtp.us-east-1.amazonaws.com";
    static final Duration ARRIVAL = Duration.ofSeconds(30);
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @TempDir
    static Path dir;
    static String net;
    static DnsmasqServer dns;
    static UpstreamCertificate cert;
    static AiosmtpdUpstream ses25;
    static AiosmtpdUpstream ses587;
    static UpstreamSink mxSink;
    static UpstreamSink internalSink;

    @BeforeAll
    static void upstreamsAndDns() throws Exception {
        Tools.require(Tools.SWAKS, Tools.SMTP_SINK, Tools.DNSMASQ, Tools.OPENSSL);
        Tools.requirePythonModule("aiosmtpd");
        ThreadLocalRandom r = ThreadLocalRandom.current();
        net = "127." + r.nextInt(1, 255) + "." + r.nextInt(1, 255) + ".";
        Path up = Files.createDirectories(dir.resolve("upstreams"));
        cert = UpstreamCertificate.create(up, "ses", "DNS:" + SES);
        ses25 = AiosmtpdUpstream.builder(up).listen(ip(3), 25).starttls(cert.certPem(), cert.keyPem())
                .auth("AKIAEXAMPLESESUSER1", "exampleSesSecret1").start();
        ses587 = AiosmtpdUpstream.builder(up).listen(ip(3), 587).starttls(cert.certPem(), cert.keyPem())
                .auth("AKIAEXAMPLESESUSER2", "exampleSesSecret2").start();
        mxSink = UpstreamSink.startAt(up, ip(4), 25);
        internalSink = UpstreamSink.startAt(up, ip(6), 25);
        dns = DnsmasqServer.start(up,
                "--host-record=" + SES + "," + ip(3),
                "--mx-host=example.net,mx.example.net,10", "--host-record=mx.example.net," + ip(4),
                "--mx-host=example.org,mx.example.org,10", "--host-record=mx.example.org," + ip(4),
                "--host-record=mx.internal.example.co.jp," + ip(6),
                "--dns-rr=nullmx.test,15,000000",
                "--host-record=nomx.test," + ip(4),
                "--mx-host=mxdown.test,mx1.mxdown.test,10", "--mx-host=mxdown.test,mx2.mxdown.test,20",
                "--host-record=mx1.mxdown.test," + ip(5), "--host-record=mx2.mxdown.test," + ip(4),
                // answer for these zones here (NODATA/NXDOMAIN), never "refused: no upstream"
                "--local=/test/", "--local=/amazonaws.com/", "--local=/example.net/", "--local=/example.org/",
                "--local=/example.com/", "--local=/example.co.jp/", "--local=/example.jp/");
    }

    @AfterAll
    static void stopAll() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {ses25, ses587, mxSink, internalSink, dns}) {
            if (c != null) {
                c.close();
            }
        }
    }

    static String ip(int host) {
        return net + host;
    }

    /**
     * ses-selected-destinations: example.com and the one address user-1@example.net go
     * through the {@code ses} transport (its own SASL table, TLS encrypt, no fallback
     * relay) to the SES host, which has no MX and is reached by its A record on port 25;
     * every other recipient, also user-2@example.net, goes directly to its domain's MX.
     */
    @Test
    void sesSelectedDestinations() throws Exception {
        Imported imp = importFixture("ses-selected-destinations");
        try (NodeProcess node = NodeProcess.start(imp.nodeDir(), imp.yaml(), imp.smtpPort())) {
            swaks(node.smtpPort(), "app@example.jp", "someone@example.com", List.of());
            swaks(node.smtpPort(), "app@example.jp", "user-1@example.net", List.of());
            swaks(node.smtpPort(), "app@example.jp", "user-2@example.net", List.of());

            AiosmtpdUpstream.Received a = awaitAt(ses25, "someone@example.com");
            AiosmtpdUpstream.Received b = awaitAt(ses25, "user-1@example.net");
            for (AiosmtpdUpstream.Received got : List.of(a, b)) {
                assertTrue(got.tls(), "STARTTLS to SES (smtp_tls_security_level=encrypt)");
                assertEquals("AKIAEXAMPLESESUSER1", got.authUser(), "AUTH with the sasl-ses entry");
            }
            awaitAt(mxSink, "user-2@example.net");
            String log = awaitLog(imp, "to=<user-2@example.net>");
            assertTrue(log.contains("to=<someone@example.com>, relay=" + SES + "[" + ip(3) + "]:25"), log);
            assertTrue(log.contains("to=<user-2@example.net>, relay=mx.example.net[" + ip(4) + "]:25"), log);
            assertNowhereElse("someone@example.com", ses25);
            assertNowhereElse("user-1@example.net", ses25);
            assertNowhereElse("user-2@example.net", mxSink);
            assertFalse(log.contains("exampleSesSecret1") || node.stderr().contains("exampleSesSecret1"));
        }
    }

    /**
     * ses-relayhost-587: every recipient, whatever its domain, goes to the relayhost
     * {@code [email-smtp.us-east-1.amazonaws.com]:587} (A record, no MX lookup) with
     * STARTTLS and the sasl_passwd account; nothing is delivered directly.
     */
    @Test
    void sesRelayhost587() throws Exception {
        Imported imp = importFixture("ses-relayhost-587");
        try (NodeProcess node = NodeProcess.start(imp.nodeDir(), imp.yaml(), imp.smtpPort())) {
            swaks(node.smtpPort(), "app@hogehoge.com", "anyone@example.org", List.of());
            swaks(node.smtpPort(), "app@hogehoge.com", "r587@example.net", List.of());
            for (String rcpt : List.of("anyone@example.org", "r587@example.net")) {
                AiosmtpdUpstream.Received got = awaitAt(ses587, rcpt);
                assertTrue(got.tls(), "STARTTLS to SES on 587");
                assertEquals("AKIAEXAMPLESESUSER2", got.authUser(), "AUTH with the sasl_passwd entry");
                assertNowhereElse(rcpt, ses587);
            }
            String log = awaitLog(imp, "to=<r587@example.net>");
            assertTrue(log.contains("to=<anyone@example.org>, relay=" + SES + "[" + ip(3) + "]:587"), log);
            assertFalse(log.contains("exampleSesSecret2") || node.stderr().contains("exampleSesSecret2"));
        }
    }

    /**
     * elb-relay-mynetworks: the relay tier delivers directly by MX; its own domain
     * (relay_domains = $mydomain) goes to the internal host named in its transport table.
     * The direct-MX cases run here too: a null MX bounces with 5.1.10 (and the DSN reaches
     * the sender through the transport entry), a domain without MX gets its A record, and
     * a first MX with nothing listening hands the message to the second.
     */
    @Test
    void elbRelayMynetworksAndDirectMx() throws Exception {
        Imported imp = importFixture("elb-relay-mynetworks");
        try (NodeProcess node = NodeProcess.start(imp.nodeDir(), imp.yaml(), imp.smtpPort())) {
            String from = "webapp@example.co.jp";
            for (String rcpt : List.of("elb@example.org", "bounces@example.co.jp", "user@nullmx.test",
                    "user@nomx.test", "user@mxdown.test")) {
                swaks(node.smtpPort(), from, rcpt, List.of());
            }
            awaitAt(mxSink, "elb@example.org");
            awaitAt(internalSink, "bounces@example.co.jp");
            awaitAt(mxSink, "user@nomx.test");
            awaitAt(mxSink, "user@mxdown.test");
            // the sender is a recipient only of the DSN
            String dsn = awaitAt(internalSink, from);
            assertTrue(dsn.contains("\nX-Mail-Args: <>"), "a DSN has the null sender: " + dsn);
            assertTrue(dsn.contains("Final-Recipient: rfc822; user@nullmx.test"), dsn);

            String log = awaitLog(imp, "to=<user@mxdown.test>");
            assertTrue(log.contains("to=<elb@example.org>, relay=mx.example.org[" + ip(4) + "]:25"), log);
            assertTrue(log.contains("to=<bounces@example.co.jp>, relay=mx.internal.example.co.jp[" + ip(6) + "]:25"), log);
            assertTrue(log.contains("to=<user@nomx.test>, relay=nomx.test[" + ip(4) + "]:25"), log);
            assertTrue(log.contains("to=<user@mxdown.test>, relay=mx2.mxdown.test[" + ip(4) + "]:25"), log);
            assertTrue(log.matches("(?s).*to=<user@nullmx\\.test>, [^\\n]*dsn=5\\.1\\.10, status=bounced[^\\n]*.*"), log);
            for (String rcpt : List.of("elb@example.org", "user@nomx.test", "user@mxdown.test")) {
                assertNowhereElse(rcpt, mxSink);
            }
            assertNowhereElse("bounces@example.co.jp", internalSink);
        }
    }

    // ---- import and rewrite ----

    record Imported(Path nodeDir, String yaml, int smtpPort) {
    }

    /**
     * Copies the fixture, runs {@code import-postfix} on the copy, prints what it wrote and
     * what it reported as not carried over, and rewrites only the machine-specific values.
     */
    static Imported importFixture(String fixture) throws Exception {
        Path postfix = dir.resolve(fixture + "/etc-postfix");
        PostfixFixture.copy(fixture, postfix);
        Path out = dir.resolve(fixture + "/imported.yaml");
        PostfixFixture.Imported imported = PostfixFixture.importPostfix(postfix, out);
        int code = imported.code();
        String stderr = imported.stderr();
        assertEquals(0, code, stderr);
        System.out.printf("=== %s: import-postfix wrote%n%s--- stderr%n%s", fixture, Files.readString(out), stderr);

        ObjectNode root = (ObjectNode) YAML.readTree(out.toFile());
        rewritePaths(root, postfix);
        Path nodeDir = dir.resolve(fixture + "/node");
        int smtp = Ports.free();
        ObjectNode smtpd = root.withObjectProperty("smtpd");
        smtpd.set("listen", YAML.createArrayNode().add("127.0.0.1:" + smtp));
        ArrayNode servers = YAML.createArrayNode().add("127.0.0.1:" + dns.port());
        root.withObjectProperty("smtp").set("dns-servers", servers);
        root.withObjectProperty("queue").put("spool-dir", nodeDir.resolve("spool").toString());
        root.withObjectProperty("health").put("listen", "127.0.0.1:" + Ports.free());
        root.withObjectProperty("cluster").put("listen", "127.0.0.1:" + Ports.free());
        root.withObjectProperty("log").put("file", nodeDir.resolve("mail.log").toString());
        return new Imported(nodeDir, YAML.writeValueAsString(root), smtp);
    }

    /** Table paths (/etc/postfix/...) → the copy; the CA bundle → the upstreams' test certificate. */
    private static void rewritePaths(JsonNode node, Path postfix) {
        if (node instanceof ObjectNode obj) {
            for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String key = e.getKey();
                if (e.getValue().isTextual() && (key.equals("sasl-password-file") || key.equals("transport-maps"))
                        && e.getValue().asText().startsWith("/")) {
                    e.setValue(YAML.getNodeFactory().textNode(
                            postfix.resolve(Path.of(e.getValue().asText()).getFileName()).toString()));
                } else if (e.getValue().isTextual() && key.equals("tls-ca-file")) {
                    e.setValue(YAML.getNodeFactory().textNode(cert.certPem().toString()));
                } else {
                    rewritePaths(e.getValue(), postfix);
                }
            }
        } else if (node instanceof ArrayNode arr) {
            arr.forEach(n -> rewritePaths(n, postfix));
        }
    }

    // ---- waiting for arrivals ----

    static AiosmtpdUpstream.Received awaitAt(AiosmtpdUpstream up, String rcpt) throws Exception {
        long end = System.nanoTime() + ARRIVAL.toNanos();
        while (true) {
            for (AiosmtpdUpstream.Received m : up.messages()) {
                if (m.recipients().contains(rcpt)) {
                    return m;
                }
            }
            if (System.nanoTime() > end) {
                throw new AssertionError(rcpt + " did not arrive at aiosmtpd " + up.port() + " within " + ARRIVAL);
            }
            Thread.sleep(100);
        }
    }

    /** The first dump in which smtp-sink recorded {@code addr} as a recipient (X-Rcpt-Args). */
    static String awaitAt(UpstreamSink sink, String addr) throws Exception {
        long end = System.nanoTime() + ARRIVAL.toNanos();
        while (true) {
            for (String m : sink.messages()) {
                if (rcptArgs(m).contains("<" + addr + ">")) {
                    return m;
                }
            }
            if (System.nanoTime() > end) {
                throw new AssertionError(addr + " did not arrive at smtp-sink " + sink.port() + " within " + ARRIVAL
                        + ": " + sink.messages());
            }
            Thread.sleep(100);
        }
    }

    /** {@code rcpt} arrived once, at {@code expected}, and at none of the other upstreams. */
    static void assertNowhereElse(String rcpt, Object expected) throws IOException {
        List<String> where = new ArrayList<>();
        for (AiosmtpdUpstream up : List.of(ses25, ses587)) {
            up.messages().stream().filter(m -> m.recipients().contains(rcpt)).forEach(m -> where.add(name(up)));
        }
        for (UpstreamSink s : List.of(mxSink, internalSink)) {
            s.messages().stream().filter(m -> rcptArgs(m).contains("<" + rcpt + ">")).forEach(m -> where.add(name(s)));
        }
        assertEquals(List.of(name(expected)), where, rcpt + " arrived at");
    }

    private static String rcptArgs(String dump) {
        StringBuilder sb = new StringBuilder();
        for (String line : dump.split("\r?\n")) {
            if (line.startsWith("X-Rcpt-Args:")) {
                sb.append(line).append('\n');
            }
        }
        return sb.toString();
    }

    private static String name(Object upstream) {
        if (upstream == ses25) {
            return "ses:25";
        } else if (upstream == ses587) {
            return "ses:587";
        } else if (upstream == mxSink) {
            return "mx-sink";
        } else if (upstream == internalSink) {
            return "internal-sink";
        }
        return String.valueOf(upstream);
    }

    /** The node's mail log once it contains {@code marker} with a status (bounded wait). */
    static String awaitLog(Imported imp, String marker) throws Exception {
        Path log = imp.nodeDir().resolve("mail.log");
        long end = System.nanoTime() + ARRIVAL.toNanos();
        String text = "";
        while (System.nanoTime() < end) {
            text = Files.exists(log) ? Files.readString(log) : "";
            if (text.matches("(?s).*" + java.util.regex.Pattern.quote(marker) + "[^\\n]*status=.*")) {
                return text;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no " + marker + " with a status in the mail log:\n" + text);
    }
}
