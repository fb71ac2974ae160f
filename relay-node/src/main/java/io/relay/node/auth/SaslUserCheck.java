package io.relay.node.auth;

import io.relay.node.log.Printable;
import io.relay.routing.RateLimit;
import java.util.ArrayList;
import java.util.List;

/**
 * The checks of a SASL user's name, senders and rates for {@code relayctl users}, the same
 * as a line of the bootstrap file passes ({@link UsersFile}): one rule for both ways in.
 *
 * <p>Strategy: the fields are written as a {@code NAME:HASH:SENDERS:RATES} line with a
 * placeholder hash and handed to {@link UsersFile}'s own line check, so the rules live in
 * one place. What that line form could not carry (the separators {@code : ,}, white space,
 * control characters, an empty element) is refused first, so nothing is split differently
 * than it was given. A problem is one line without a "file line N" prefix.
 */
public final class SaslUserCheck {
    /** Well-formed, matches no password: it only lets the line check pass the hash field. */
    private static final String PLACEHOLDER_HASH =
            "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    private SaslUserCheck() {
    }

    /**
     * The user named {@code name} with {@code senders} and {@code rates} (rates written in
     * their normal form, e.g. {@code 100/m}); IllegalArgumentException with one line otherwise.
     */
    public static SaslUser check(String name, List<String> senders, List<String> rates) {
        String n = name == null ? "" : name;
        if (n.isEmpty() || unsafe(n)) {
            throw new IllegalArgumentException("bad user name (letters, digits, . _ @ + -, at most 128)");
        }
        List<String> s = senders == null ? List.of() : senders;
        List<String> r = rates == null ? List.of() : rates;
        for (String x : s) {
            if (x == null || x.isEmpty() || unsafe(x)) {
                throw new IllegalArgumentException("user " + n + ": bad sender " + printable(x) + " (an address or @domain)");
            }
        }
        for (String x : r) {
            if (x == null || x.isEmpty() || unsafe(x)) {
                throw new IllegalArgumentException("user " + n + ": bad rate " + printable(x)
                        + " (N/unit with unit s, m, h or d, e.g. 100/m)");
            }
        }
        UsersFile.Entry e = UsersFile.parse(n + ":" + PLACEHOLDER_HASH + ":" + String.join(",", s) + ":"
                + String.join(",", r), "");
        List<String> normal = new ArrayList<>();
        for (String x : e.rates()) {
            normal.add(RateLimit.parse(x).text());
        }
        return new SaslUser(e.name(), e.senders(), normal);
    }

    /** What a line of the file cannot carry as one field element. */
    private static boolean unsafe(String s) {
        return s.chars().anyMatch(c -> c == ':' || c == ',' || Character.isWhitespace(c) || Character.isISOControl(c));
    }

    /** Attacker-given text in a one-line error: quoted, masked as the mail log masks it, at most 80 characters. */
    private static String printable(String s) {
        if (s == null) {
            return "(none)";
        }
        return "'" + Printable.mask(s.length() > 80 ? s.substring(0, 80) + "..." : s) + "'";
    }
}
