package io.relay.node.delivery;

import io.relay.routing.RateLimit;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The decision whether a delivery to one lane (transport + next hop, {@code Route.laneKey()})
 * may start now: a concurrency cap on connections and the lane's rate limits. Per node in
 * {@link LocalNextHopLimiter}, for the whole cluster in {@link ClusterNextHopLimiter}. The
 * Dispatcher asks for the connection slot first and for the rate right before MAIL FROM,
 * once the session is set up, so the next hop sees the spacing the rate asks for.
 */
public interface NextHopLimiter {

    /**
     * Waits for one of {@code limit} connection slots of the lane. The slot covers the whole
     * delivery, including a cached connection being reused, so close it when the delivery ends.
     *
     * @return the slot, or empty when none came free within the limiter's longest wait
     */
    Optional<ConnectionPermit> acquireConnection(String laneKey, int limit) throws InterruptedException;

    /**
     * Waits until every one of {@code rates} allows one more delivery of {@code recipients}
     * recipients, and counts it; refuses at once (counting nothing) when that wait would be
     * longer than the limiter allows.
     */
    RateDecision awaitRate(String laneKey, List<RateLimit> rates, int recipients) throws InterruptedException;

    /** A held connection slot; closing it frees the slot (idempotent). */
    interface ConnectionPermit extends AutoCloseable {
        @Override
        void close();
    }

    /** What {@link #awaitRate} decided. */
    sealed interface RateDecision {
        /** The delivery may start now (after {@code waited}); it has been counted against every rate. */
        record Proceed(Duration waited) implements RateDecision { }

        /** Too long to wait: defer. {@code limitedBy} is the rate that needs the longest wait. */
        record Refused(RateLimit limitedBy, Duration wouldWait) implements RateDecision { }
    }

    /** No limits at all: for wiring that has not configured any (and tests of other concerns). */
    static NextHopLimiter unlimited() {
        return new NextHopLimiter() {
            @Override
            public Optional<ConnectionPermit> acquireConnection(String laneKey, int limit) {
                return Optional.of(() -> { });
            }

            @Override
            public RateDecision awaitRate(String laneKey, List<RateLimit> rates, int recipients) {
                return new RateDecision.Proceed(Duration.ZERO);
            }
        };
    }
}
