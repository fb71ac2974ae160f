package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.log.MailLog;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.ScriptedDnsServer;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.NextHop;
import io.relay.routing.TlsLevel;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MX lookups against a real DNS server (dnsmasq on 127.0.0.1:random) pointing at 127.0.0.x upstreams. */
class MxResolverTest {
    @TempDir
    static Path dir;
    static DnsmasqServer dns;
    static MxResolver resolver;
    /** Answers what dnsmasq cannot be made to: SERVFAIL for one type of a name. */
    static ScriptedDnsServer scripted;
    static MxResolver scriptedResolver;

    @BeforeAll
    static void startDns() throws Exception {
        dns = DnsmasqServer.start(dir,
                "--mx-host=ordered.test,mx-b.ordered.test,20", "--mx-host=ordered.test,mx-a.ordered.test,10",
                "--host-record=mx-a.ordered.test,127.0.0.2", "--host-record=mx-b.ordered.test,127.0.0.1",
                "--mx-host=equal.test,one.equal.test,10", "--mx-host=equal.test,two.equal.test,10",
                "--host-record=one.equal.test,127.0.0.3", "--host-record=two.equal.test,127.0.0.4",
                "--host-record=nomx.test,127.0.0.5",
                "--dns-rr=nullmx.test,15,000000",
                // Answer for the whole test domain here (NODATA/NXDOMAIN), never "refused: no upstream".
                "--local=/test/");
        resolver = new MxResolver(List.of(dns.address()), Duration.ofSeconds(3));
        scripted = ScriptedDnsServer.start()
                .mx("v6fail.test", 10, "mx.v6fail.test").a("mx.v6fail.test", "127.0.0.7")
                .fail("mx.v6fail.test", ScriptedDnsServer.AAAA, ScriptedDnsServer.SERVFAIL)
                .mx("v6refused.test", 10, "mx.v6refused.test").a("mx.v6refused.test", "127.0.0.8")
                .fail("mx.v6refused.test", ScriptedDnsServer.AAAA, ScriptedDnsServer.REFUSED)
                // A fails, AAAA has no records (NODATA): nothing usable, and the failure is A's
                .mx("v4fail.test", 10, "mx.v4fail.test")
                .fail("mx.v4fail.test", ScriptedDnsServer.A, ScriptedDnsServer.SERVFAIL)
                .fail("mxfail.test", ScriptedDnsServer.MX, ScriptedDnsServer.SERVFAIL);
        scriptedResolver = new MxResolver(List.of(scripted.address()), Duration.ofSeconds(3));
    }

    @AfterAll
    static void stopDns() {
        if (dns != null) {
            dns.close();
        }
        if (scripted != null) {
            scripted.close();
        }
    }

    private static List<String> ips(List<InetSocketAddress> list) {
        return list.stream().map(a -> a.getHostString() + "[" + a.getAddress().getHostAddress() + "]:" + a.getPort())
                .toList();
    }

    @Test
    void exchangersComeInPreferenceOrder() throws Exception {
        assertEquals(List.of("mx-a.ordered.test[127.0.0.2]:25", "mx-b.ordered.test[127.0.0.1]:25"),
                ips(resolver.resolve(new NextHop("ordered.test", 25, true))));
    }

    @Test
    void equalPreferencesAreShuffled() throws Exception {
        Set<List<String>> orders = new HashSet<>();
        for (int i = 0; i < 40 && orders.size() < 2; i++) {
            orders.add(ips(resolver.resolve(new NextHop("equal.test", 25, true))));
        }
        assertEquals(2, orders.size(), "both orders seen: " + orders);
    }

    @Test
    void aDomainWithoutMxFallsBackToItsAddress() throws Exception {
        assertEquals(List.of("nomx.test[127.0.0.5]:2525"), ips(resolver.resolve(new NextHop("nomx.test", 2525, true))));
    }

    @Test
    void aNullMxIsAPermanentFailure() throws Exception {
        assertThrows(NullMxException.class, () -> resolver.resolve(new NextHop("nullmx.test", 25, true)));
        Path logFile = dir.resolve("nullmx.log");
        MailLog log = MailLog.open(logFile, "relay", "relay.test");
        RecordingQueue queue = new RecordingQueue();
        try (SmtpClient client = new SmtpClient("relay.test", Duration.ofSeconds(2), Duration.ofSeconds(5),
                Duration.ofSeconds(1), resolver)) {
            Dispatcher d = Fixtures.dispatcher((r, s) -> Fixtures.smtpTo(new NextHop("nullmx.test", 25, true),
                    TlsLevel.NONE, null, null, false), client, queue, log);
            QueuedMessage m = Fixtures.message("s@example.com", List.of("user@nullmx.test"), "x\r\n");
            assertInstanceOf(RecipientOutcome.Failed.class, d.deliver(Fixtures.attempt(m)).get(0));
        }
        assertTrue(Files.readString(logFile).contains("dsn=5.1.10, status=bounced (Domain nullmx.test does not accept "
                + "mail (nullMX))"), Files.readString(logFile));
        assertEquals(1, queue.accepted.size());
    }

    @Test
    void aRefusedFirstExchangerMovesOnToTheNext() throws Exception {
        // mx-a (127.0.0.2) has nothing listening on the port; mx-b (127.0.0.1) is the upstream.
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start();
             SmtpClient client = new SmtpClient("relay.test", Duration.ofSeconds(2), Duration.ofSeconds(5),
                     Duration.ofSeconds(1), resolver)) {
            SmtpDelivery d = client.deliver(new NextHop("ordered.test", up.port(), true),
                    new SmtpClient.Policy(TlsLevel.NONE, null, null, false), "s@example.com", List.of("u@ordered.test"),
                    "Subject: mx\r\n\r\nx\r\n".getBytes(), false, false);
            assertEquals(RecipientResult.Status.SENT, d.results().get(0).status(), d.toString());
            assertEquals("mx-b.ordered.test[127.0.0.1]:" + up.port(), d.relay());
            assertEquals(1, up.messages().size());
        }
    }

    @Test
    void aFailedAaaaQueryKeepsTheARecords() throws Exception {
        assertEquals(List.of("mx.v6fail.test[127.0.0.7]:25"),
                ips(scriptedResolver.resolve(new NextHop("v6fail.test", 25, true))), "AAAA SERVFAIL");
        assertEquals(List.of("mx.v6refused.test[127.0.0.8]:25"),
                ips(scriptedResolver.resolve(new NextHop("v6refused.test", 25, true))), "AAAA REFUSED");
        assertEquals(List.of("mx.v6fail.test[127.0.0.7]:25"),
                ips(scriptedResolver.resolve(new NextHop("mx.v6fail.test", 25, false))), "bracketed hop");
    }

    @Test
    void aFailureNamesItsTypeAndResponseCode() {
        DnsLookupException a = assertThrows(DnsLookupException.class,
                () -> scriptedResolver.resolve(new NextHop("v4fail.test", 25, true)));
        assertEquals("Name service error for name=mx.v4fail.test type=A: Host not found, try again (SERVFAIL)",
                a.getMessage());
        DnsLookupException mx = assertThrows(DnsLookupException.class,
                () -> scriptedResolver.resolve(new NextHop("mxfail.test", 25, true)));
        assertEquals("Name service error for name=mxfail.test type=MX: Host not found, try again (SERVFAIL)",
                mx.getMessage());
        DnsLookupException nx = assertThrows(DnsLookupException.class,
                () -> scriptedResolver.resolve(new NextHop("nosuch.test", 25, true)));
        assertEquals("Name service error for name=nosuch.test type=MX: Host not found", nx.getMessage());
    }

    @Test
    void aTemporaryFailureOfTheOnlyUsableTypeDefers() throws Exception {
        try (SmtpClient client = new SmtpClient("relay.test", Duration.ofSeconds(2), Duration.ofSeconds(5),
                Duration.ofSeconds(1), scriptedResolver)) {
            SmtpDelivery d = client.deliver(new NextHop("v4fail.test", 25, true),
                    new SmtpClient.Policy(TlsLevel.NONE, null, null, false), "s@example.com", List.of("u@v4fail.test"),
                    "Subject: x\r\n\r\nx\r\n".getBytes(), false, false);
            RecipientResult r = d.results().get(0);
            assertEquals(RecipientResult.Status.DEFERRED, r.status(), d.toString());
            assertEquals("4.4.3", r.dsn());
            assertEquals("Host or domain name not found. Name service error for name=mx.v4fail.test type=A: "
                    + "Host not found, try again (SERVFAIL)", r.detail());
        }
    }
}
