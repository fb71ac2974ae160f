package io.relay.node.config;

import java.util.ArrayList;
import java.util.List;

/**
 * The problems found in one configuration, each {@code key: reason}. Validation adds to it
 * instead of stopping at the first, so {@code relay-node check} can print every problem at
 * once while start refuses with the first ({@link #throwIfAny}).
 */
public final class Problems {
    private final List<String> lines = new ArrayList<>();

    /** Adds {@code key: reason}; the same line found by two checks is kept once. */
    public void add(String key, String reason) {
        String line = key + ": " + reason;
        if (!lines.contains(line)) {
            lines.add(line);
        }
    }

    /** Adds {@code key: reason} unless {@code ok}; returns {@code ok} so a caller can skip dependent checks. */
    public boolean check(String key, boolean ok, String reason) {
        if (!ok) {
            add(key, reason);
        }
        return ok;
    }

    public void addAll(Problems other) {
        other.lines.forEach(l -> {
            if (!lines.contains(l)) {
                lines.add(l);
            }
        });
    }

    public boolean isEmpty() {
        return lines.isEmpty();
    }

    /** Each problem as {@code key: reason}, in the order found. */
    public List<String> list() {
        return List.copyOf(lines);
    }

    /**
     * One {@link ConfigException} for the whole set: the first problem, and how many more there
     * are (start prints one line; {@code check} lists them all).
     */
    public void throwIfAny(String source) {
        if (!lines.isEmpty()) {
            throw new ConfigException(firstOf(lines.stream().map(l -> prefix(source) + l).toList()));
        }
    }

    /** The start's one line for a list of whole problem lines: the first, and how many more. */
    public static String firstOf(List<String> problemLines) {
        return problemLines.get(0) + (problemLines.size() == 1 ? ""
                : " (and " + (problemLines.size() - 1) + " more; relay-node check --config FILE lists them all)");
    }

    static String prefix(String source) {
        return source == null || source.isEmpty() ? "" : source + ": ";
    }
}
