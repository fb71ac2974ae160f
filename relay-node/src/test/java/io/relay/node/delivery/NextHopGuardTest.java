package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.metrics.BreakerState;
import io.relay.routing.NextHop;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The guard's decisions on a fake clock: breaker transitions, retries and their waits, throttling pauses. */
class NextHopGuardTest {
    private static final NextHop HOP = NextHop.parse("[email-smtp.eu-west-1.amazonaws.com]:587");
    private static final String LANE = "ses:" + HOP.text();
    private static final List<String> RCPTS = List.of("a@example.com", "b@example.com");

    /** A clock the test moves by hand. */
    private static final class FakeClock extends Clock {
        long millis = 1_700_000_000_000L;

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis);
        }

        void advance(Duration d) {
            millis += d.toMillis();
        }
    }

    private final FakeClock clock = new FakeClock();
    private final List<Duration> waits = new ArrayList<>();
    private final List<String> transitions = new ArrayList<>();
    private final AtomicInteger connects = new AtomicInteger();

    private NextHopGuard guard(int threshold, int retries) {
        return new NextHopGuard(new NextHopGuard.Settings(threshold, Duration.ofSeconds(30), retries), clock, d -> {
            waits.add(d);
            clock.advance(d);
        }, (hop, state) -> transitions.add(hop + "=" + state));
    }

    private SmtpDelivery refused() {
        connects.incrementAndGet();
        List<RecipientResult> out = new ArrayList<>();
        for (String r : RCPTS) {
            out.add(RecipientResult.deferred(r, "4.4.1", "connect to email-smtp.eu-west-1.amazonaws.com[192.0.2.1]:587: "
                    + "Connection refused"));
        }
        return new SmtpDelivery("none", 1000, 0, 0, false, out, true);
    }

    private SmtpDelivery sent() {
        connects.incrementAndGet();
        List<RecipientResult> out = new ArrayList<>();
        for (String r : RCPTS) {
            out.add(new RecipientResult(r, RecipientResult.Status.SENT, "2.0.0", "250 Ok", HOP.host(), "250 Ok"));
        }
        return new SmtpDelivery("upstream[192.0.2.1]:587", 1000, 1000, 1, false, out, false);
    }

    private SmtpDelivery replied(String reply, String inReplyTo) {
        connects.incrementAndGet();
        List<RecipientResult> out = new ArrayList<>();
        for (String r : RCPTS) {
            out.add(new RecipientResult(r, RecipientResult.Status.DEFERRED, "4.7.0", "host upstream[192.0.2.1] said: "
                    + reply + " (in reply to " + inReplyTo + ")", HOP.host(), reply));
        }
        return new SmtpDelivery("upstream[192.0.2.1]:587", 1000, 1000, 1, false, out, false);
    }

    private static boolean allSuspended(SmtpDelivery d) {
        return d.results().stream().allMatch(r -> r.status() == RecipientResult.Status.DEFERRED
                && r.detail().equals("delivery temporarily suspended: connect to "
                + "email-smtp.eu-west-1.amazonaws.com[192.0.2.1]:587: Connection refused") && r.dsn().equals("4.4.1"));
    }

    @Test
    void opensAfterThresholdConnectionFailuresInARowAndThenDefersWithoutConnecting() {
        NextHopGuard g = guard(5, 0);
        for (int i = 0; i < 4; i++) {
            g.deliver(LANE, HOP, RCPTS, this::refused);
            assertTrue(g.suspended(HOP.text()).isEmpty(), "still closed after " + (i + 1) + " failures");
        }
        SmtpDelivery fifth = g.deliver(LANE, HOP, RCPTS, this::refused);
        assertFalse(allSuspended(fifth), "the fifth was a real attempt");
        assertEquals(5, connects.get());
        assertEquals(Map.of(HOP.text(), BreakerState.OPEN), g.states());
        assertEquals(List.of(HOP.text() + "=OPEN"), transitions);
        assertEquals("delivery temporarily suspended: connect to email-smtp.eu-west-1.amazonaws.com[192.0.2.1]:587: "
                + "Connection refused", g.suspended(HOP.text()).orElseThrow().text());

        for (int i = 0; i < 20; i++) {
            clock.advance(Duration.ofSeconds(1));
            SmtpDelivery d = g.deliver(LANE, HOP, RCPTS, this::sent);
            assertTrue(allSuspended(d), d.toString());
            assertEquals("none", d.relay());
        }
        assertEquals(5, connects.get(), "no connection while open");
    }

    @Test
    void aSessionInBetweenResetsTheCountAndReplyFailuresDoNotCount() {
        NextHopGuard g = guard(3, 0);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        g.deliver(LANE, HOP, RCPTS, this::sent);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        // 4xx/5xx to MAIL or RCPT come from a session: the hop is up.
        g.deliver(LANE, HOP, RCPTS, () -> replied("450 4.2.0 mailbox busy", "RCPT TO command"));
        g.deliver(LANE, HOP, RCPTS, () -> replied("550 5.1.1 no such user", "RCPT TO command"));
        assertEquals(Map.of(HOP.text(), BreakerState.CLOSED), g.states());
        assertTrue(transitions.isEmpty());
    }

    @Test
    void halfOpenLetsOneProbeThroughThatClosesOnSuccess() {
        NextHopGuard g = guard(2, 0);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        clock.advance(Duration.ofSeconds(29));
        assertTrue(allSuspended(g.deliver(LANE, HOP, RCPTS, this::sent)), "still open before open-time");
        clock.advance(Duration.ofSeconds(2));
        SmtpDelivery probe = g.deliver(LANE, HOP, RCPTS, this::sent);
        assertEquals("upstream[192.0.2.1]:587", probe.relay());
        assertEquals(3, connects.get());
        assertEquals(List.of(HOP.text() + "=OPEN", HOP.text() + "=HALF_OPEN", HOP.text() + "=CLOSED"), transitions);
        assertEquals(Map.of(HOP.text(), BreakerState.CLOSED), g.states());
        g.deliver(LANE, HOP, RCPTS, this::sent);
        assertEquals(4, connects.get());
    }

    @Test
    void aFailedProbeReopensForAnotherOpenTime() {
        NextHopGuard g = guard(2, 0);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        clock.advance(Duration.ofSeconds(31));
        g.deliver(LANE, HOP, RCPTS, this::refused);
        assertEquals(3, connects.get());
        assertEquals(List.of(HOP.text() + "=OPEN", HOP.text() + "=HALF_OPEN", HOP.text() + "=OPEN"), transitions);
        clock.advance(Duration.ofSeconds(29));
        assertTrue(allSuspended(g.deliver(LANE, HOP, RCPTS, this::sent)));
        assertEquals(3, connects.get());
        clock.advance(Duration.ofSeconds(2));
        g.deliver(LANE, HOP, RCPTS, this::sent);
        assertEquals(Map.of(HOP.text(), BreakerState.CLOSED), g.states());
    }

    @Test
    void aHalfOpenBreakerLetsOnlyOneProbeInWhileItRuns() {
        NextHopGuard g = guard(1, 0);
        g.deliver(LANE, HOP, RCPTS, this::refused);
        clock.advance(Duration.ofSeconds(31));
        List<SmtpDelivery> during = new ArrayList<>();
        g.deliver(LANE, HOP, RCPTS, () -> {
            // a second delivery while the probe is still talking to the hop
            during.add(g.deliver(LANE, HOP, RCPTS, this::sent));
            return sent();
        });
        assertTrue(allSuspended(during.get(0)));
        assertEquals(2, connects.get());
    }

    @Test
    void connectionFailuresAreRetriedWithJitteredExponentialWaitsUnlessTheBreakerOpens() {
        NextHopGuard g = guard(5, 2);
        SmtpDelivery d = g.deliver(LANE, HOP, RCPTS, this::refused);
        assertTrue(d.connectionFailure());
        assertEquals(3, connects.get(), "one try and two retries");
        assertEquals(2, waits.size());
        assertTrue(waits.get(0).toMillis() >= 100 && waits.get(0).toMillis() <= 300, waits.toString());
        assertTrue(waits.get(1).toMillis() >= 200 && waits.get(1).toMillis() <= 600, waits.toString());

        // the second delivery opens the breaker after its second try: no third
        g.deliver(LANE, HOP, RCPTS, this::refused);
        assertEquals(5, connects.get());
        assertEquals(BreakerState.OPEN, g.states().get(HOP.text()));

        waits.clear();
        NextHopGuard fresh = guard(5, 2);
        AtomicInteger calls = new AtomicInteger();
        SmtpDelivery second = fresh.deliver(LANE, HOP, RCPTS, () -> calls.incrementAndGet() == 1 ? refused() : sent());
        assertEquals(2, calls.get());
        assertEquals("upstream[192.0.2.1]:587", second.relay());
        assertEquals(1, waits.size());
        assertEquals(BreakerState.CLOSED, fresh.states().get(HOP.text()));
    }

    @Test
    void replyFailuresAreNotRetried() {
        NextHopGuard g = guard(5, 2);
        g.deliver(LANE, HOP, RCPTS, () -> replied("451 4.3.0 try again", "RCPT TO command"));
        assertEquals(1, connects.get());
        assertTrue(waits.isEmpty());
    }

    @Test
    void throttlingPausesTheLaneDoublingUpToSixtySeconds() {
        NextHopGuard g = guard(5, 0);
        assertEquals(0, g.pausedUntilMillis(LANE));
        g.deliver(LANE, HOP, RCPTS, () -> replied("454 4.7.0 Throttling failure: Maximum sending rate exceeded",
                "MAIL FROM command"));
        assertEquals(clock.millis() + 1000, g.pausedUntilMillis(LANE));
        assertEquals(454, g.throttlingCode(LANE));
        // a reply from a transaction begun before the pause does not lengthen it
        g.throttled(LANE, 454);
        assertEquals(clock.millis() + 1000, g.pausedUntilMillis(LANE));

        long[] expected = {2, 4, 8, 16, 32, 60, 60};
        for (long seconds : expected) {
            clock.advance(Duration.ofMillis(g.pausedUntilMillis(LANE) - clock.millis()));
            g.throttled(LANE, 454);
            assertEquals(clock.millis() + seconds * 1000, g.pausedUntilMillis(LANE), "pause " + seconds);
        }
        assertEquals(0, g.pausedUntilMillis("smtp:[other.example]"), "other lanes run on");
        assertEquals(Map.of(HOP.text(), BreakerState.CLOSED), g.states(), "throttling is not a connection failure");
    }

    @Test
    void successfulDeliveriesHalveTheNextPause() {
        NextHopGuard g = guard(5, 0);
        for (int i = 0; i < 4; i++) { // 1, 2, 4, 8 s
            clock.advance(Duration.ofSeconds(60));
            g.throttled(LANE, 454);
        }
        clock.advance(Duration.ofSeconds(60));
        g.deliver(LANE, HOP, RCPTS, this::sent); // 8 → 4: the next is 8 s, not 16 s
        g.throttled(LANE, 454);
        assertEquals(clock.millis() + 8000, g.pausedUntilMillis(LANE));
        clock.advance(Duration.ofSeconds(60));
        for (int i = 0; i < 5; i++) {
            g.deliver(LANE, HOP, RCPTS, this::sent);
        }
        g.throttled(LANE, 454);
        assertEquals(clock.millis() + 1000, g.pausedUntilMillis(LANE), "recovered to the first step");
    }

    @Test
    void a421AfterTheGreetingThrottlesButA421GreetingIsAConnectionFailure() {
        NextHopGuard g = guard(5, 0);
        SmtpDelivery greeting = new SmtpDelivery("upstream[192.0.2.1]:587", 1000, 0, 0, false, List.of(
                new RecipientResult("a@example.com", RecipientResult.Status.DEFERRED, "4.3.2",
                        "host upstream[192.0.2.1] said: 421 4.3.2 try later (in reply to initial server greeting)",
                        HOP.host(), "421 4.3.2 try later")), true);
        assertEquals(0, NextHopGuard.throttlingCode(greeting));
        g.deliver(LANE, HOP, RCPTS, () -> greeting);
        assertEquals(0, g.pausedUntilMillis(LANE));
        g.deliver(LANE, HOP, RCPTS, () -> replied("421 4.7.0 too many messages, slow down", "end of DATA command"));
        assertEquals(421, g.throttlingCode(LANE));
        assertTrue(g.pausedUntilMillis(LANE) > clock.millis());
    }

    @Test
    void theInactiveGuardNeverTrips() {
        NextHopGuard g = NextHopGuard.inactive();
        for (int i = 0; i < 20; i++) {
            g.deliver(LANE, HOP, RCPTS, this::refused);
        }
        g.throttled(LANE, 454);
        assertEquals(20, connects.get());
        assertEquals(0, g.pausedUntilMillis(LANE));
        assertTrue(g.suspended(HOP.text()).isEmpty());
    }
}
