package io.relay.health;

import java.util.Objects;

/**
 * One named condition the health endpoints report, e.g. "draining" or "smtp-listener".
 * Used for both /readyz and /healthz (liveness checks have the same shape).
 *
 * <p>{@link #check()} is called on a health worker thread, never on a Netty event loop, so a
 * short blocking call (asking Hazelcast for the member count) is allowed; it must still
 * return within a fraction of the load balancer's health-check timeout, because a check
 * that hangs makes the probe time out, which the balancer reads as "not ready" anyway.
 */
public interface ReadinessCheck {

    /** Stable name used as the JSON key, e.g. {@code cluster-members}. */
    String name();

    /** The current state; an exception thrown here is reported as a failed check. */
    Result check();

    /** The state of one check: {@code reason} says why it fails (or is null when it passes). */
    record Result(boolean ok, String reason) {
        private static final Result PASSING = new Result(true, null);

        public static Result passing() {
            return PASSING;
        }

        public static Result failing(String reason) {
            return new Result(false, Objects.requireNonNull(reason, "reason"));
        }
    }

    /** A check from a name and a supplier, for wiring with a lambda. */
    static ReadinessCheck of(String name, java.util.function.Supplier<Result> supplier) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(supplier, "supplier");
        return new ReadinessCheck() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Result check() {
                return supplier.get();
            }
        };
    }
}
