package io.relay.health;

import java.util.Objects;

/**
 * One named condition the health endpoints report, e.g. "draining" or "smtp-listener".
 * Used for both /readyz and /healthz (liveness checks have the same shape).
 *
 * <p>{@link #check()} is called on a health-check thread, never on a Netty event loop, so a
 * short blocking call (asking Hazelcast for the member count) is allowed. Checks of one request
 * run concurrently; one that has not returned within the server's check timeout (default
 * 1.5 s) is reported as failed with reason "check timed out", so keep them quick.
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
