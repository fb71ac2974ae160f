package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 item 5, as a new operator meets it: direct MX delivery through a dnsmasq set up
 * with nothing but {@code --mx-host} and {@code --host-record} (no upstream, so it answers
 * REFUSED for every AAAA query and for names it does not know), and a fallback relay
 * configured as Postfix operators often do. The node used to throw the good A record away
 * when AAAA was refused, send the mail to the fallback relay without a word, and log
 * {@code type=A: Host not found} for every DNS failure.
 *
 * <pre>
 *   127.N.N.2:25   aiosmtpd   mx.shop.test (A only), MX of shop.test
 *   127.0.0.1:F    aiosmtpd   smtp.fallback-relay
 *   broken.test, later.test   MX mx.nowhere.test, which dnsmasq does not know (A and AAAA REFUSED)
 *   later.test     routed to a transport without a fallback relay
 * </pre>
 * Binding port 25 needs root, as the other MX tests do.
 */
class FirstHourDnsTest {
    @TempDir
    static Path dir;
    static DnsmasqServer dns;
    static AiosmtpdUpstream mx;
    static AiosmtpdUpstream fallback;
    static NodeProcess node;
    static String mxIp;

    @BeforeAll
    static void start() throws Exception {
        Tools.require(Tools.SWAKS, Tools.DNSMASQ);
        Tools.requirePythonModule("aiosmtpd");
        ThreadLocalRandom r = ThreadLocalRandom.current();
        mxIp = "127." + r.nextInt(1, 255) + "." + r.nextInt(1, 255) + ".2";
        Path up = Files.createDirectories(dir.resolve("upstreams"));
        mx = AiosmtpdUpstream.builder(Files.createDirectories(up.resolve("mx"))).listen(mxIp, 25).start();
        fallback = AiosmtpdUpstream.builder(Files.createDirectories(up.resolve("fallback"))).start();
        dns = DnsmasqServer.start(up,
                "--mx-host=shop.test,mx.shop.test,10", "--host-record=mx.shop.test," + mxIp,
                "--mx-host=broken.test,mx.nowhere.test,10", "--mx-host=later.test,mx.nowhere.test,10");
        int smtp = Ports.free();
        Path nodeDir = dir.resolve("node");
        node = NodeProcess.start(nodeDir, NodeYaml.in(nodeDir, smtp).with("""
                smtp:
                  default-transport: smtp
                  dns-servers: ["127.0.0.1:%d"]
                  fallback-relay: ["[127.0.0.1]:%d"]
                  transport-maps:
                    later.test: "direct:"
                  transports:
                    direct: {fallback-relay: []}
                """.formatted(dns.port(), fallback.port())), smtp);
    }

    @AfterAll
    static void stop() throws Exception {
        if (node != null) {
            node.close();
            node.keepLogs(Path.of("target", "firsthour-dns"), "node.err", "mail.log");
        }
        for (AutoCloseable c : new AutoCloseable[] {mx, fallback, dns}) {
            if (c != null) {
                c.close();
            }
        }
    }

    @Test
    void directMxDeliveryWorksAgainstDnsmasqThatRefusesAaaa() throws Exception {
        swaks("shopper@shop.test");
        await(mx, "shopper@shop.test");
        String log = awaitLog("to=<shopper@shop.test>");
        assertTrue(log.contains("to=<shopper@shop.test>, relay=mx.shop.test[" + mxIp + "]:25"), log);
        assertTrue(log.matches("(?s).*to=<shopper@shop\\.test>[^\\n]*status=sent.*"), log);
        assertFalse(log.contains("trying fallback relay"), log);
        assertTrue(fallback.messages().stream().noneMatch(m -> m.recipients().contains("shopper@shop.test")),
                "not sent to the fallback relay");
    }

    @Test
    void aDnsFailureThatSendsMailToTheFallbackRelayIsLoggedWithTypeAndCode() throws Exception {
        swaks("buyer@broken.test");
        await(fallback, "buyer@broken.test");
        String log = awaitLog("to=<buyer@broken.test>");
        assertTrue(log.contains("broken.test failed for 1 recipient(s) (Host or domain name not found. Name service "
                + "error for name=mx.nowhere.test type=A: Host not found, try again (REFUSED)); trying fallback relay "
                + "[127.0.0.1]:" + fallback.port()), log);
    }

    @Test
    void aTemporaryDnsFailureOfTheOnlyUsableTypeDefers() throws Exception {
        swaks("reader@later.test");
        String log = awaitLog("to=<reader@later.test>");
        assertTrue(log.matches("(?s).*to=<reader@later\\.test>, relay=none, [^\\n]*dsn=4\\.4\\.3, status=deferred "
                + "\\(Host or domain name not found\\. Name service error for name=mx\\.nowhere\\.test type=A: "
                + "Host not found, try again \\(REFUSED\\)\\).*"), log);
        assertFalse(log.contains("status=bounced"), log);
    }

    private static void swaks(String to) throws Exception {
        Tools.Run r = Tools.swaks(node.smtpPort(), "--from", "app@web.example", "--to", to);
        assertEquals(0, r.exit(), "swaks: " + r.output());
    }

    private static void await(AiosmtpdUpstream up, String rcpt) throws Exception {
        assertTrue(up.awaitMessage(m -> m.recipients().contains(rcpt), Duration.ofSeconds(30)).isPresent(),
                rcpt + " did not arrive; mail log:\n" + node.mailLog());
    }

    /** The mail log once it has a line with {@code text}. */
    private static String awaitLog(String text) throws Exception {
        node.awaitMailLog(text, Duration.ofSeconds(30));
        return node.mailLog();
    }
}
