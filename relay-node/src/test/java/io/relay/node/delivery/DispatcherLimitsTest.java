package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.log.MailLog;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.ConnectionCountingProxy;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.Agent;
import io.relay.routing.NextHop;
import io.relay.routing.Route;
import io.relay.routing.TlsLevel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A lane's concurrency and rate limits, seen from a real upstream (aiosmtpd), through the Dispatcher. */
class DispatcherLimitsTest {
    /**
     * Arrival times are taken at the upstream at end of DATA, so two transactions begun exactly
     * 1 s apart arrive a few ms closer when the first one's MAIL..DATA took longer (it runs cold
     * code; measured 3-8 ms on a quiet machine, up to ~80 ms while other builds ran: the
     * Python upstream stamps arrivals when it gets the CPU). Connection setup is not in this
     * allowance: the rate slot is taken right before MAIL FROM.
     */
    private static final double JITTER_MS = 100;

    @TempDir
    Path dir;
    private SmtpClient client;
    private MailLog log;
    private Path logFile;
    private ExecutorService workers;
    private final java.util.concurrent.atomic.AtomicInteger postponed = new java.util.concurrent.atomic.AtomicInteger();

    @BeforeEach
    void setUp() {
        client = new SmtpClient("relay.test", Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(3),
                new AddressRecordResolver());
        logFile = dir.resolve("mail.log");
        log = MailLog.open(logFile, "relay", "relay.test");
        workers = Executors.newFixedThreadPool(4);
    }

    @AfterEach
    void tearDown() throws Exception {
        workers.shutdownNow();
        workers.awaitTermination(10, TimeUnit.SECONDS);
        client.close();
    }

    private Dispatcher dispatcher(Route route, NextHopLimiter limiter) {
        return Fixtures.dispatcher((rcpt, sender) -> route, client, limiter, 20, new RecordingQueue(), log);
    }

    private static Route ses(int port, int concurrency, String... rates) {
        return new Route("ses", new Agent.Smtp(new NextHop("127.0.0.1", port, false)), TlsLevel.NONE, null, null,
                List.of(), new Route.Limits(concurrency, List.of(rates)), true, "transport_maps: example.net");
    }

    /**
     * Delivers {@code n} messages from 4 worker threads at once, as the queue's workers would,
     * and, as the queue does, tries postponed recipients again once their time has come.
     */
    private List<RecipientOutcome> deliverConcurrently(Dispatcher d, int n) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<List<RecipientOutcome>>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            QueuedMessage m = Fixtures.message("app@example.com", List.of("user" + i + "@example.net"), "body " + i + "\r\n");
            futures.add(workers.submit(() -> {
                go.await();
                List<RecipientOutcome> out = d.deliver(Fixtures.attempt(m));
                while (out.get(0) instanceof RecipientOutcome.Postponed p) {
                    postponed.incrementAndGet();
                    Thread.sleep(Math.max(0, p.notBeforeMillis() - System.currentTimeMillis()));
                    out = d.deliver(Fixtures.attempt(m));
                }
                return out;
            }));
        }
        go.countDown();
        List<RecipientOutcome> all = new ArrayList<>();
        for (Future<List<RecipientOutcome>> f : futures) {
            all.addAll(f.get(60, TimeUnit.SECONDS));
        }
        return all;
    }

    @Test
    void oneMessageASecondReachesTheUpstreamNeverTwoInOneSecond() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start()) {
            Dispatcher d = dispatcher(ses(up.port(), 1, "1/s"), new LocalNextHopLimiter(Duration.ofSeconds(30)));
            long start = System.nanoTime();
            List<RecipientOutcome> outcomes = deliverConcurrently(d, 6);
            double tookMs = (System.nanoTime() - start) / 1e6;
            outcomes.forEach(o -> assertInstanceOf(RecipientOutcome.Delivered.class, o, o.toString()));

            List<Double> at = new ArrayList<>(up.arrivalMillis());
            assertEquals(6, at.size());
            Collections.sort(at);
            for (int i = 1; i < at.size(); i++) {
                double gap = at.get(i) - at.get(i - 1);
                assertTrue(gap >= 1000 - JITTER_MS, "messages " + (i - 1) + " and " + i + " arrived " + gap + " ms apart");
            }
            assertTrue(tookMs >= 5000, "6 messages at 1/s took only " + tookMs + " ms");
        }
    }

    @Test
    void concurrencyOneMeansOneConnectionAtTheUpstreamEvenWithReuse() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start();
             ConnectionCountingProxy proxy = new ConnectionCountingProxy(up.port())) {
            Dispatcher d = dispatcher(ses(proxy.port(), 1), new LocalNextHopLimiter(Duration.ofSeconds(30)));
            List<RecipientOutcome> outcomes = deliverConcurrently(d, 12);
            outcomes.forEach(o -> assertInstanceOf(RecipientOutcome.Delivered.class, o, o.toString()));
            assertEquals(12, up.messages().size());
            assertEquals(1, proxy.mostAtOnce(), "connections open at once (" + proxy.total() + " in all)");
        }
    }

    @Test
    void aRateWaitBeyondTheCapPostponesInsteadOfBlockingOrCountingAnAttempt() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start()) {
            Dispatcher d = dispatcher(ses(up.port(), 0, "1/m"), new LocalNextHopLimiter(Duration.ofSeconds(30)));
            QueuedMessage first = Fixtures.message("app@example.com", List.of("a@example.net"), "one\r\n");
            QueuedMessage second = Fixtures.message("app@example.com", List.of("b@example.net"), "two\r\n");
            assertInstanceOf(RecipientOutcome.Delivered.class, d.deliver(Fixtures.attempt(first)).get(0));
            long start = System.nanoTime();
            long wall = System.currentTimeMillis();
            RecipientOutcome o = d.deliver(Fixtures.attempt(second)).get(0);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "must not wait the minute out");
            RecipientOutcome.Postponed p = assertInstanceOf(RecipientOutcome.Postponed.class, o);
            assertTrue(p.notBeforeMillis() >= wall + 50_000, "held back until the next slot: " + (p.notBeforeMillis() - wall));
            assertTrue(p.reason().matches("rate limited: ses:\\[127\\.0\\.0\\.1\\]:\\d+ allows 1/m, next slot in \\d+s"),
                    p.reason());
            assertEquals(1, up.messages().size());
            assertTrue(Files.readAllLines(logFile).stream().noneMatch(l -> l.contains("to=<b@example.net>")),
                    "a postponed recipient was not tried, so the mail log has no line for it (as Postfix's qmgr)");
        }
    }

    @Test
    void aBusyLaneHoldsAtMostItsCapOfWorkersWhileOtherLanesFlow() throws Exception {
        Files.createDirectories(dir.resolve("slow"));
        Files.createDirectories(dir.resolve("fast"));
        try (AiosmtpdUpstream slow = AiosmtpdUpstream.builder(dir.resolve("slow")).start();
             AiosmtpdUpstream fast = AiosmtpdUpstream.builder(dir.resolve("fast")).start()) {
            Route sandbox = ses(slow.port(), 1, "1/s");
            Route other = new Route("smtp", new Agent.Smtp(new NextHop("127.0.0.1", fast.port(), false)),
                    TlsLevel.NONE, null, null, List.of(), new Route.Limits(0, List.of()), true, "relayhost");
            Dispatcher d = Fixtures.dispatcher((rcpt, sender) -> rcpt.endsWith("@example.net") ? sandbox : other,
                    client, new LocalNextHopLimiter(Duration.ofSeconds(30)), 20, new RecordingQueue(), log);
            // 4 workers; 8 sandbox messages first, then 8 for the other next hop.
            List<Future<RecipientOutcome>> sandboxed = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                QueuedMessage m = Fixtures.message("app@example.com", List.of("s" + i + "@example.net"), "s\r\n");
                sandboxed.add(workers.submit(() -> d.deliver(Fixtures.attempt(m)).get(0)));
            }
            List<Future<RecipientOutcome>> others = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                QueuedMessage m = Fixtures.message("app@example.com", List.of("o" + i + "@example.org"), "o\r\n");
                others.add(workers.submit(() -> d.deliver(Fixtures.attempt(m)).get(0)));
            }
            for (Future<RecipientOutcome> f : others) {
                assertInstanceOf(RecipientOutcome.Delivered.class, f.get(30, TimeUnit.SECONDS));
            }
            long delivered = 0;
            long held = 0;
            for (Future<RecipientOutcome> f : sandboxed) {
                RecipientOutcome o = f.get(30, TimeUnit.SECONDS);
                delivered += o instanceof RecipientOutcome.Delivered ? 1 : 0;
                held += o instanceof RecipientOutcome.Postponed ? 1 : 0;
            }
            assertEquals(8, fast.messages().size(), "the other next hop got all its mail");
            assertEquals(8, delivered + held, "sandbox messages are delivered or postponed, never deferred");
            assertTrue(held >= 4, "a 1/s lane with concurrency 1 holds one worker (and one waiting), postponed: " + held);
        }
    }
}
