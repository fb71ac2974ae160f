package io.relay.routing;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Postfix's sender_dependent_relayhost_maps: a relayhost chosen by the envelope sender.
 * Lookup order: the full sender address, then {@code @domain}. The null sender
 * (bounces) is not looked up, as in Postfix where it is searched as
 * empty_address_relayhost_maps_lookup_key only when configured.
 */
public final class SenderRelayhostTable {
    public static final SenderRelayhostTable EMPTY = new SenderRelayhostTable(Map.of());

    private final Map<String, Entry> entries;

    /** @param key as written; nexthop the relayhost for that sender. */
    public record Entry(String key, NextHop nexthop) { }

    private SenderRelayhostTable(Map<String, Entry> entries) {
        this.entries = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }

    /** Text form: {@code sender-or-@domain  nexthop}; errors name source and line. */
    public static SenderRelayhostTable parse(String text, String source) {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (TableLines.Line line : TableLines.split(text)) {
            String[] kv = line.text().split("\\s+", 2);
            put(out, kv[0], kv.length < 2 ? "" : kv[1].trim(), source + ":" + line.number());
        }
        return new SenderRelayhostTable(out);
    }

    /** Inline YAML map, sender-or-@domain → next hop. */
    public static SenderRelayhostTable of(Map<String, String> map) {
        Map<String, Entry> out = new LinkedHashMap<>();
        if (map != null) {
            map.forEach((k, v) -> put(out, k == null ? "" : k.trim(), v == null ? "" : v.trim(),
                    ""));
        }
        return new SenderRelayhostTable(out);
    }

    private static String at(String where) {
        return where.isEmpty() ? "" : where + ": ";
    }

    /** @param where the file and line ("" for an inline map, whose messages name the entry alone) */
    private static void put(Map<String, Entry> out, String key, String value, String where) {
        if (key.isEmpty()) {
            throw new IllegalArgumentException(at(where) + "empty key");
        }
        if (value.isEmpty()) {
            throw new IllegalArgumentException(at(where) + "entry '" + key + "' has no next hop");
        }
        try {
            out.put(key.toLowerCase(Locale.ROOT), new Entry(key, NextHop.parse(value)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(at(where) + "entry '" + key + "': " + e.getMessage());
        }
    }

    /** The entry for a sender: the full address, then {@code @domain}. */
    public Optional<Entry> lookup(String sender) {
        if (sender == null || sender.isBlank() || entries.isEmpty()) {
            return Optional.empty();
        }
        String s = sender.trim().toLowerCase(Locale.ROOT);
        Entry e = entries.get(s);
        int at = s.lastIndexOf('@');
        if (e == null && at >= 0) {
            e = entries.get(s.substring(at));
        }
        return Optional.ofNullable(e);
    }

    public List<Entry> entries() {
        return List.copyOf(entries.values());
    }
}
