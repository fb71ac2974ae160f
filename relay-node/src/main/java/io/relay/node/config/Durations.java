package io.relay.node.config;

import io.relay.routing.PostfixDuration;
import java.time.Duration;

/**
 * Durations as Postfix writes them: a number and an optional unit s, m, h, d or w (default
 * s), read by {@link PostfixDuration}; and the shortest form that writes one back.
 */
public final class Durations {
    private Durations() {
    }

    public static Duration parse(String text) {
        return PostfixDuration.parse(text, 's').orElseThrow(() -> new IllegalArgumentException(
                "not a duration: '" + text + "' (write e.g. 300s, 5m, 4000s, 5d)"));
    }

    /** The shortest Postfix form that says the same. */
    public static String format(Duration d) {
        long s = d.toSeconds();
        if (s != 0 && s % 86400 == 0) {
            return s / 86400 + "d";
        }
        if (s != 0 && s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s != 0 && s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
