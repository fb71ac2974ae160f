package io.relay.routing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Postfix's transport(5) table: which transport and next hop carry mail for an address
 * or domain. Text form: {@code key  transport:nexthop} per line, '#' comments, blank
 * lines, whitespace-led continuation lines.
 *
 * <p>Lookup order for {@code user@sub.example.com} (case-insensitive): {@code
 * user@sub.example.com}, then {@code sub.example.com}, then the parent domains written
 * with a leading dot, {@code .example.com} then {@code .com}, then {@code *}. A plain
 * {@code example.com} key does not match its subdomains (Postfix's default for
 * transport_maps; parent_domain_matches_subdomains does not list it).
 *
 * <p>Results: {@code smtp:[host]:587} (transport and next hop), {@code :[host]} (default
 * transport, this next hop), {@code smtp:} (this transport, the recipient's domain),
 * {@code :} (leave transport and next hop as they would be), {@code error:text},
 * {@code discard:text}.
 */
public final class TransportTable {
    public static final TransportTable EMPTY = new TransportTable(new LinkedHashMap<>());

    private final Map<String, Entry> entries;

    /**
     * One table entry.
     *
     * @param key       the key as written
     * @param transport the transport name, "" = the default transport
     * @param nexthop   the next hop or error/discard text as written, "" = none given
     */
    public record Entry(String key, String transport, String nexthop) {
        /** The result as written in the table: {@code transport:nexthop}. */
        public String result() {
            return transport + ":" + nexthop;
        }
    }

    /** A lookup result: the entry and the key form that matched (e.g. ".example.com"). */
    public record Match(String matchedKey, Entry entry) { }

    private TransportTable(Map<String, Entry> entries) {
        this.entries = entries;
    }

    /** Parses transport(5) text; errors name the source and line. */
    public static TransportTable parse(String text, String source) {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (TableLines.Line line : TableLines.split(text)) {
            String[] kv = line.text().split("\\s+", 2);
            String where = source + ":" + line.number();
            if (kv.length < 2 || kv[1].isBlank()) {
                throw new IllegalArgumentException(at(where) + "entry '" + kv[0] + "' has no transport:nexthop result");
            }
            put(out, kv[0], kv[1].trim(), where);
        }
        return new TransportTable(out);
    }

    /** Builds the table from an inline map (YAML {@code transport-maps}), key → result. */
    public static TransportTable of(Map<String, String> map) {
        Map<String, Entry> out = new LinkedHashMap<>();
        if (map != null) {
            map.forEach((k, v) -> put(out, k == null ? "" : k.trim(), v == null ? "" : v.trim(), ""));
        }
        return new TransportTable(out);
    }

    /** @param where the file and line ("" for an inline map, whose messages name the entry alone) */
    private static void put(Map<String, Entry> out, String key, String result, String where) {
        if (key.isEmpty() || key.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException(at(where) + "bad key '" + key + "'");
        }
        if (key.startsWith("/") || key.startsWith("~")) {
            throw new IllegalArgumentException(at(where) + "'" + key + "' looks like a regexp; only exact keys are supported");
        }
        String lower = key.toLowerCase(Locale.ROOT);
        if (out.containsKey(lower)) {
            throw new IllegalArgumentException(at(where) + "duplicate key '" + key + "'");
        }
        out.put(lower, parseResult(key, result, where));
    }

    static Entry parseResult(String key, String result, String where) {
        if (result.isEmpty()) {
            throw new IllegalArgumentException(at(where) + "entry '" + key + "' has an empty result");
        }
        int colon = result.indexOf(':');
        String transport = colon < 0 ? result : result.substring(0, colon).trim();
        String nexthop = colon < 0 ? "" : result.substring(colon + 1).trim();
        if (!transport.matches("[A-Za-z0-9_.-]*")) {
            throw new IllegalArgumentException(at(where) + "entry '" + key + "' has a bad transport name '" + transport + "'");
        }
        String t = transport.toLowerCase(Locale.ROOT);
        boolean textArgument = t.equals("error") || t.equals("discard") || t.equals("retry") || t.equals("file");
        if (!textArgument && !nexthop.isEmpty()) {
            if (nexthop.chars().anyMatch(Character::isWhitespace) || nexthop.contains(",")) {
                throw new IllegalArgumentException(at(where) + "entry '" + key + "' lists several next hops ('" + nexthop
                        + "'); write one next hop and use fallback relays for the others");
            }
            try {
                NextHop.parse(nexthop);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(at(where) + "entry '" + key + "': " + e.getMessage());
            }
        }
        return new Entry(key, t, nexthop);
    }

    private static String at(String where) {
        return where.isEmpty() ? "" : where + ": ";
    }

    /** The entry for an address, in the order described in the class comment. */
    public Optional<Match> lookup(String address) {
        if (entries.isEmpty() || address == null) {
            return Optional.empty();
        }
        for (String key : lookupKeys(address)) {
            Entry e = entries.get(key);
            if (e != null) {
                return Optional.of(new Match(key, e));
            }
        }
        return Optional.empty();
    }

    static List<String> lookupKeys(String address) {
        String a = address.trim().toLowerCase(Locale.ROOT);
        List<String> keys = new ArrayList<>();
        int at = a.lastIndexOf('@');
        // a bare local part has no domain to look up (Postfix would first append myorigin)
        String domain = at < 0 ? "" : a.substring(at + 1);
        keys.add(a);
        if (!domain.isEmpty()) {
            keys.add(domain);
            int dot = domain.indexOf('.');
            while (dot >= 0) {
                keys.add(domain.substring(dot));
                dot = domain.indexOf('.', dot + 1);
            }
        }
        keys.add("*");
        return keys;
    }

    /** The entries in table order, for listing and for writing the inline YAML map. */
    public List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }
}
