package io.relay.node.smtpd;

import java.util.Locale;

/**
 * What the server does with a line that ends in a bare LF ({@code smtpd.forbid-bare-newline},
 * Postfix's smtpd_forbid_bare_newline). In every mode the end of DATA is only
 * {@code <CR><LF>.<CR><LF>} and a bare CR ends the session with 521: the other end-of-data
 * shapes are SMTP smuggling, and a relay that took them would hand a hidden second message
 * to the upstream.
 */
public enum BareNewline {
    /** Postfix 3.9's default: command and content lines ending in LF are taken as if they ended in CRLF. */
    NORMALIZE,
    /** {@code 521 5.5.2 Error: bare <LF> received} and the session ends (this relay's behaviour before). */
    REJECT,
    /**
     * Postfix's "no" also ends DATA at {@code <LF>.<LF>}, which is the smuggling hole; here it
     * is the same as {@link #NORMALIZE}, accepted so that an imported main.cf value means something.
     */
    NO;

    /**
     * The YAML values: normalize, reject, no, and Postfix's alias yes (= normalize); YAML 1.1
     * turns an unquoted yes/no into true/false.
     */
    public static BareNewline parse(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "normalize", "yes", "true" -> NORMALIZE;
            case "reject" -> REJECT;
            case "no", "false" -> NO;
            default -> throw new IllegalArgumentException("'" + value + "' is not one of normalize, reject, no");
        };
    }

    boolean accepted() {
        return this != REJECT;
    }
}
