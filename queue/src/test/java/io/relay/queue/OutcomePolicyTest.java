package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.relay.queue.OutcomePolicy.Decision;
import io.relay.queue.OutcomePolicy.Deferred;
import io.relay.queue.OutcomePolicy.Expired;
import io.relay.queue.OutcomePolicy.Finished;
import io.relay.queue.OutcomePolicy.Postponed;
import io.relay.queue.RecipientOutcome.Delivered;
import io.relay.queue.RecipientOutcome.Failed;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The outcome policy as a table: a message's state and one attempt's per-recipient results
 * in, the decision out. Backoff 5 min doubled per attempt up to 80 min, lifetime 5 days,
 * jitter at its largest (bound - 1) so the times are exact.
 */
class OutcomePolicyTest {
    private static final long MIN = 60_000;
    private static final long ARRIVAL = 1_700_000_000_000L;
    private static final long NOW = ARRIVAL + 3_600_000; // an hour after arrival
    private static final long LIFETIME = 5 * 24 * 60 * MIN;
    private static final OutcomePolicy POLICY = new OutcomePolicy(new QueueSettings(Path.of("unused"),
            Duration.ofMinutes(5), Duration.ofMinutes(80), Duration.ofMillis(LIFETIME), 1, 10, 10));

    record Case(String name, QueueMeta state, List<RecipientOutcome> outcomes, long now, Decision expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static QueueMeta state(int attempts, String lastReason, String... pending) {
        return new QueueMeta(List.of(pending), attempts, NOW - 1, ARRIVAL, lastReason, 100, false, List.of());
    }

    private static RecipientOutcome.Deferred deferred(String rcpt, String reason) {
        return new RecipientOutcome.Deferred(rcpt, reason);
    }

    private static RecipientOutcome.Postponed postponed(String rcpt, long inMillis, String reason) {
        return new RecipientOutcome.Postponed(rcpt, NOW + inMillis, reason);
    }

    /** Backoff before attempt n+1 plus the largest jitter: delay + delay / 10. */
    private static long backoff(long delay) {
        return NOW + delay + delay / 10;
    }

    static Stream<Case> table() {
        return Stream.of(
                // sent / bounced: nothing owed
                new Case("all delivered: finished", state(0, "", "a@x", "b@y"),
                        List.of(new Delivered("a@x"), new Delivered("b@y")), NOW, new Finished()),
                new Case("delivered and failed (DSN sent by the handler): finished", state(2, "busy", "a@x", "b@y"),
                        List.of(new Delivered("a@x"), new Failed("b@y", "550 no such user")), NOW, new Finished()),
                new Case("the first outcome per recipient counts", state(0, "", "a@x"),
                        List.of(new Delivered("a@x"), deferred("a@x", "421 later")), NOW, new Finished()),
                new Case("outcomes for recipients not pending are ignored", state(0, "", "a@x"),
                        List.of(new Delivered("a@x"), deferred("z@z", "421")), NOW, new Finished()),
                // deferred with backoff
                new Case("first deferral: minimal backoff, only the deferred stays pending", state(0, "", "a@x", "b@y"),
                        List.of(new Delivered("a@x"), deferred("b@y", "421 try later")), NOW,
                        new Deferred(List.of("b@y"), 1, backoff(5 * MIN), "421 try later")),
                new Case("third attempt: backoff doubled twice", state(2, "421", "a@x"),
                        List.of(deferred("a@x", "451 greylisted")), NOW,
                        new Deferred(List.of("a@x"), 3, backoff(20 * MIN), "451 greylisted")),
                new Case("backoff capped at the maximal backoff", state(9, "421", "a@x"),
                        List.of(deferred("a@x", "451")), NOW, new Deferred(List.of("a@x"), 10, backoff(80 * MIN), "451")),
                new Case("no outcome for a pending recipient: deferred", state(0, "", "a@x", "b@y"),
                        List.of(new Delivered("a@x")), NOW,
                        new Deferred(List.of("b@y"), 1, backoff(5 * MIN), "delivery handler gave no outcome")),
                new Case("the first deferred recipient's reason; null reads as empty", state(0, "", "a@x", "b@y"),
                        List.of(deferred("a@x", null), deferred("b@y", "421")), NOW,
                        new Deferred(List.of("a@x", "b@y"), 1, backoff(5 * MIN), "")),
                new Case("a handler failure defers every pending recipient", state(1, "421", "a@x", "b@y"),
                        OutcomePolicy.allDeferred(List.of("a@x", "b@y"), "boom"), NOW,
                        new Deferred(List.of("a@x", "b@y"), 2, backoff(10 * MIN), "boom")),
                new Case("deferred beside a postponed recipient: due no later than its slot", state(0, "", "a@x", "b@y"),
                        List.of(deferred("a@x", "421"), postponed("b@y", 30_000, "lane busy")), NOW,
                        new Deferred(List.of("a@x", "b@y"), 1, NOW + 30_000, "421")),
                new Case("deferred beside a postponement later than the backoff: the backoff", state(0, "", "a@x", "b@y"),
                        List.of(deferred("a@x", "421"), postponed("b@y", 3 * 3_600_000, "quota")), NOW,
                        new Deferred(List.of("a@x", "b@y"), 1, backoff(5 * MIN), "421")),
                // postponed by lane limits: no attempt counted, no backoff
                new Case("short postponement, nothing done: not written", state(0, "", "a@x", "b@y"),
                        List.of(postponed("a@x", 2_000, "rate"), postponed("b@y", 1_000, "rate")), NOW,
                        new Postponed(List.of("a@x", "b@y"), NOW + 1_000, "", false)),
                new Case("short postponement after a deferral keeps the old reason", state(3, "421 busy", "a@x"),
                        List.of(postponed("a@x", 1_000, "rate")), NOW,
                        new Postponed(List.of("a@x"), NOW + 1_000, "421 busy", false)),
                new Case("short postponement with a recipient done: written", state(0, "", "a@x", "b@y"),
                        List.of(new Delivered("a@x"), postponed("b@y", 1_000, "lane busy")), NOW,
                        new Postponed(List.of("b@y"), NOW + 1_000, "", true)),
                new Case("a slot in the past: due now", state(0, "", "a@x"),
                        List.of(postponed("a@x", -5_000, "rate")), NOW, new Postponed(List.of("a@x"), NOW, "", false)),
                new Case("long postponement (a quota): written with its reason", state(0, "", "a@x"),
                        List.of(postponed("a@x", 2 * 3_600_000, "daily quota reached")), NOW,
                        new Postponed(List.of("a@x"), NOW + 2 * 3_600_000, "daily quota reached", true)),
                new Case("long postponement exactly at the shown threshold: written", state(0, "", "a@x"),
                        List.of(postponed("a@x", OutcomePolicy.SHOWN_POSTPONEMENT_MILLIS, "quota")), NOW,
                        new Postponed(List.of("a@x"), NOW + OutcomePolicy.SHOWN_POSTPONEMENT_MILLIS, "quota", true)),
                new Case("long postponement already stored as is: not written again",
                        new QueueMeta(List.of("a@x"), 0, NOW + 7_200_000, ARRIVAL, "quota", 100, false, List.of()),
                        List.of(postponed("a@x", 7_200_000, "quota")), NOW,
                        new Postponed(List.of("a@x"), NOW + 7_200_000, "quota", false)),
                new Case("long postponement without a reason: written with an empty one", state(0, "", "a@x"),
                        List.of(postponed("a@x", 7_200_000, null)), NOW, new Postponed(List.of("a@x"), NOW + 7_200_000, "", true)),
                // expired: past maximal_queue_lifetime with anything still owed
                new Case("deferred past the lifetime: expired", state(40, "421", "a@x", "b@y"),
                        List.of(new Delivered("a@x"), deferred("b@y", "421 still busy")), ARRIVAL + LIFETIME + 1,
                        new Expired(List.of(deferred("b@y", "421 still busy")))),
                new Case("at exactly the lifetime: expired", state(40, "421", "a@x"),
                        List.of(deferred("a@x", "421")), ARRIVAL + LIFETIME, new Expired(List.of(deferred("a@x", "421")))),
                new Case("postponed past the lifetime: expired, postponed ones after the deferred",
                        state(40, "421", "a@x", "b@y", "c@z"),
                        List.of(postponed("a@x", 1_000, "lane busy"), deferred("b@y", "421"), new Delivered("c@z")),
                        ARRIVAL + LIFETIME, new Expired(List.of(deferred("b@y", "421"), deferred("a@x", "lane busy")))),
                new Case("everything done past the lifetime: finished, not expired", state(40, "421", "a@x"),
                        List.of(new Delivered("a@x")), ARRIVAL + LIFETIME + 1, new Finished()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void decides(Case c) {
        assertEquals(c.expected(), POLICY.decide(c.state(), c.outcomes(), c.now(), bound -> bound - 1), c.name());
    }
}
