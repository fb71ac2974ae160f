package io.relay.node.delivery;

/**
 * What one transport did for one recipient, with what the mail log and a DSN need.
 *
 * @param dsn       enhanced status code, e.g. 2.0.0, 4.4.1, 5.1.1
 * @param detail    the text in {@code status=... (detail)}
 * @param remoteMta the host that gave the reply, or null when no server answered
 * @param reply     the server's reply text (Diagnostic-Code), or null
 */
public record RecipientResult(String recipient, Status status, String dsn, String detail, String remoteMta,
                              String reply) {
    public enum Status { SENT, DEFERRED, BOUNCED }

    public static RecipientResult sent(String recipient, String detail) {
        return new RecipientResult(recipient, Status.SENT, "2.0.0", detail, null, null);
    }

    public static RecipientResult deferred(String recipient, String dsn, String detail) {
        return new RecipientResult(recipient, Status.DEFERRED, dsn, detail, null, null);
    }

    public static RecipientResult bounced(String recipient, String dsn, String detail) {
        return new RecipientResult(recipient, Status.BOUNCED, dsn, detail, null, null);
    }
}
