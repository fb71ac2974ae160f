package io.relay.node.delivery;

import java.net.UnknownHostException;

/**
 * One DNS lookup that gave no usable answer: the name, the record type asked for, and what
 * the server said, so that the log names the real failure as Postfix's smtp(8) does
 * ({@code Name service error for name=mx.example.com type=AAAA: Host not found, try again}),
 * with the response code added ({@code (SERVFAIL)}, {@code (REFUSED)}, {@code (timed out)}).
 * Every kind defers the mail; only {@link NullMxException} bounces.
 */
public final class DnsLookupException extends UnknownHostException {
    private static final long serialVersionUID = 1L;

    /** What became of the lookup. */
    public enum Kind {
        /** NXDOMAIN: the name does not exist. */
        NOT_FOUND("Host not found"),
        /** NOERROR without records of the type: the name exists, the type does not. */
        NO_DATA("Host found but no data record of requested type"),
        /** SERVFAIL, REFUSED, a timeout and the like: the answer may come another time. */
        TRY_AGAIN("Host not found, try again");

        private final String text;

        Kind(String text) {
            this.text = text;
        }
    }

    private final String name;
    private final String type;
    private final Kind kind;

    /** @param detail the server's response code or the transport's failure; null when the kind says it all */
    public DnsLookupException(String name, String type, Kind kind, String detail) {
        super("Name service error for name=" + name + " type=" + type + ": " + kind.text
                + (detail == null ? "" : " (" + detail + ")"));
        this.name = name;
        this.type = type;
        this.kind = kind;
    }

    public String name() {
        return name;
    }

    public String type() {
        return type;
    }

    public Kind kind() {
        return kind;
    }
}
