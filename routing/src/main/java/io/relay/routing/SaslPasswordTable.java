package io.relay.routing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A Postfix {@code smtp_sasl_password_maps} table in its text form: one
 * {@code key user:password} per line, {@code #} comments, blank lines ignored, a line
 * starting with whitespace continues the previous one. The password is everything after
 * the first ':' and may itself contain ':'. Keys are case-insensitive.
 *
 * <p>Lookup order, as Postfix's SMTP client does it (smtp_sasl_glue): first the remote
 * server's host name, then the next-hop destination as written in relayhost or the
 * transport table. Routing decides before any connection, so the "remote host name" is
 * the next hop's host: for {@code [host]:587} the order is {@code host}, then
 * {@code [host]:587}. A port-25 next hop matches both {@code [host]} and {@code [host]:25}.
 * Per-sender lookup (smtp_sender_dependent_authentication) is not supported.
 */
public final class SaslPasswordTable {
    public static final SaslPasswordTable EMPTY = new SaslPasswordTable(Map.of(), "(none)");

    private final Map<String, Entry> entries;
    private final String source;

    private record Entry(String key, String username, String password) { }

    private SaslPasswordTable(Map<String, Entry> entries, String source) {
        this.entries = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        this.source = source;
    }

    /**
     * Parses the text of a sasl_passwd file. Errors name the source and line number,
     * never the password.
     */
    public static SaslPasswordTable parse(String text, String source) {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (TableLines.Line line : TableLines.split(text)) {
            String[] kv = line.text().split("\\s+", 2);
            if (kv.length < 2 || kv[1].isBlank()) {
                throw new IllegalArgumentException(source + ":" + line.number() + ": entry '" + kv[0]
                        + "' has no user:password value");
            }
            String value = kv[1].trim();
            int colon = value.indexOf(':');
            if (colon <= 0) {
                // do not echo the value: without a ':' it may be a bare password
                throw new IllegalArgumentException(source + ":" + line.number() + ": entry '" + kv[0]
                        + "' value is not user:password");
            }
            String key = kv[0].toLowerCase(Locale.ROOT);
            if (out.containsKey(key)) {
                throw new IllegalArgumentException(source + ":" + line.number() + ": duplicate entry '" + kv[0] + "'");
            }
            out.put(key, new Entry(kv[0], value.substring(0, colon), value.substring(colon + 1)));
        }
        return new SaslPasswordTable(out, source);
    }

    /** Credentials for a next hop, in the order described in the class comment. */
    public Optional<Credentials> lookup(NextHop hop) {
        for (String key : lookupKeys(hop)) {
            Entry e = entries.get(key.toLowerCase(Locale.ROOT));
            if (e != null) {
                return Optional.of(new Credentials(e.key(), e.username(), e.password()));
            }
        }
        return Optional.empty();
    }

    static List<String> lookupKeys(NextHop hop) {
        List<String> keys = new ArrayList<>();
        keys.add(hop.host());
        keys.add(hop.text());
        if (hop.port() == NextHop.SMTP_PORT) {
            keys.add(hop.text() + ":25");
        }
        return keys.stream().distinct().toList();
    }

    /** The entry of exactly {@code key} (case-insensitive), as written; for an import that carries every entry. */
    public Optional<Credentials> entry(String key) {
        Entry e = entries.get(key.toLowerCase(Locale.ROOT));
        return e == null ? Optional.empty() : Optional.of(new Credentials(e.key(), e.username(), e.password()));
    }

    /** The keys as written, for listing; never the passwords. */
    public List<String> keys() {
        return entries.values().stream().map(Entry::key).toList();
    }

    public String source() {
        return source;
    }

    @Override
    public String toString() {
        return "SaslPasswordTable[" + source + ", keys=" + keys() + "]";
    }
}
