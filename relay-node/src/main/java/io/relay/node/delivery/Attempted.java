package io.relay.node.delivery;

/**
 * What a transport did for one recipient, with what the mail log line needs.
 *
 * @param program      the mail log's program: smtp, file, discard, error
 * @param relay        the mail log's relay= ("host[address]:port", "file", "none")
 * @param setupNanos   connection setup (the c of delays=a/b/c/d)
 * @param transmitNanos transmission (the d of delays=a/b/c/d)
 * @param heldUntil    above 0: postponed until then (epoch ms): not tried, not logged, no attempt counted
 */
record Attempted(String program, String relay, long setupNanos, long transmitNanos, RecipientResult result,
                 long heldUntil) {

    /** Tried: its result is logged and counted. */
    Attempted(String program, String relay, long setupNanos, long transmitNanos, RecipientResult result) {
        this(program, relay, setupNanos, transmitNanos, result, 0);
    }

    /** A result decided without a connection (file, discard, error, defer). */
    static Attempted local(String program, String relay, RecipientResult result) {
        return new Attempted(program, relay, 0, 0, result);
    }

    boolean postponed() {
        return heldUntil > 0;
    }
}
