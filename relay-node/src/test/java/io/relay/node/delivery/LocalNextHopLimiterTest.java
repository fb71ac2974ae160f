package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.delivery.NextHopLimiter.RateDecision;
import io.relay.routing.RateLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The per-node limiter's decisions, on a fake clock: rates, quotas counted in recipients, connection slots. */
class LocalNextHopLimiterTest {
    private static final long S = 1_000_000_000L;
    private static final String LANE = "ses:[email-smtp.us-east-1.amazonaws.com]:587";

    private final AtomicLong now = new AtomicLong(1_000 * S);
    private final List<Long> sleeps = new ArrayList<>();
    private final LocalNextHopLimiter limiter = new LocalNextHopLimiter(Duration.ofSeconds(30), now::get, until -> {
        sleeps.add(until - now.get());
        now.set(until);
    });

    private static List<RateLimit> rates(String... text) {
        return List.of(text).stream().map(RateLimit::parse).toList();
    }

    private long awaitNanos(List<RateLimit> rates, int recipients) throws InterruptedException {
        RateDecision d = limiter.awaitRate(LANE, rates, recipients);
        return assertInstanceOf(RateDecision.Proceed.class, d).waited().toNanos();
    }

    @Test
    void oneASecondSpacesDeliveriesOneSecondApartWithNoBurst() throws Exception {
        List<RateLimit> oneASecond = rates("1/s");
        assertEquals(0, awaitNanos(oneASecond, 1));
        assertEquals(S, awaitNanos(oneASecond, 1));
        assertEquals(S, awaitNanos(oneASecond, 5), "a send rate counts deliveries, not recipients");
        now.addAndGet(10 * S);
        // Idle time earns no burst: after a pause the next one goes at once, the one after a second later.
        assertEquals(0, awaitNanos(oneASecond, 1));
        assertEquals(S, awaitNanos(oneASecond, 1));
        assertEquals(List.of(S, S, S), sleeps);
    }

    @Test
    void fourteenASecondAndADailyQuotaInRecipientsBothHold() throws Exception {
        List<RateLimit> ses = rates("14/s", "50000/d");
        long start = now.get();
        // 14 deliveries of 1000 recipients: the 14/s rate spaces them 1/14 s apart, the quota lets them through.
        for (int i = 0; i < 14; i++) {
            awaitNanos(ses, 1000);
        }
        assertEquals(13 * (S / 14), now.get() - start, "14 deliveries span 13 intervals of 1/14 s");
        // 14 000 recipients counted; 36 000 left of the day's 50 000.
        for (int i = 0; i < 36; i++) {
            awaitNanos(ses, 1000);
        }
        long beforeRefusal = now.get();
        RateDecision d = limiter.awaitRate(LANE, ses, 1000);
        RateDecision.Refused no = assertInstanceOf(RateDecision.Refused.class, d, "quota of 50000 recipients used up");
        assertEquals("50000/d", no.limitedBy().text());
        // 1000 recipients come back to the quota in 1000 × 86400/50000 s = 1728 s, minus what elapsed.
        assertTrue(no.wouldWait().toSeconds() > 1700 && no.wouldWait().toSeconds() <= 1728, no.wouldWait().toString());
        assertEquals(beforeRefusal, now.get(), "a refusal does not wait");
        // A delivery with one recipient fits after one quota interval (1.728 s); the refusal charged nothing.
        long oneRecipient = awaitNanos(ses, 1);
        assertTrue(oneRecipient <= 1_728_000_000L, "waited " + oneRecipient);
    }

    @Test
    void aRefusedDeliveryIsNotChargedToTheRatesThatAllowedIt() throws Exception {
        List<RateLimit> limits = rates("1/s", "2/d");
        awaitNanos(limits, 1);
        awaitNanos(limits, 1);
        assertInstanceOf(RateDecision.Refused.class, limiter.awaitRate(LANE, limits, 1));
        // Had the refused one been counted against 1/s, this one (1 s after the last) would wait another second.
        now.addAndGet(S);
        assertEquals(0, awaitNanos(rates("1/s"), 1));
    }

    @Test
    void waitsLongerThanTheCapAreRefusedAndLanesAreIndependent() throws Exception {
        List<RateLimit> slow = rates("1/m");
        awaitNanos(slow, 1);
        RateDecision d = limiter.awaitRate(LANE, slow, 1);
        assertEquals(Duration.ofSeconds(60), assertInstanceOf(RateDecision.Refused.class, d).wouldWait());
        assertInstanceOf(RateDecision.Proceed.class, limiter.awaitRate("smtp:[other]:25", slow, 1));
        assertEquals(List.of(), sleeps);
    }

    @Test
    void connectionSlotsCapTheLaneUntilReleased() throws Exception {
        LocalNextHopLimiter real = new LocalNextHopLimiter(Duration.ofMillis(100));
        Optional<NextHopLimiter.ConnectionPermit> first = real.acquireConnection(LANE, 1);
        assertTrue(first.isPresent());
        assertTrue(real.acquireConnection(LANE, 1).isEmpty(), "second slot of a limit-1 lane");
        assertTrue(real.acquireConnection("smtp:[other]:25", 1).isPresent(), "other lanes are not affected");
        first.get().close();
        first.get().close();
        assertEquals(0, real.connectionsInUse(LANE, 1), "closing twice releases once");
        Optional<NextHopLimiter.ConnectionPermit> again = real.acquireConnection(LANE, 1);
        assertTrue(again.isPresent());
        assertTrue(real.acquireConnection(LANE, 1).isEmpty(), "closing twice must not have added a slot");
    }
}
