package io.relay.node.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as Postfix writes them: a number and an optional unit s, m, h, d or w (default s). */
public final class Durations {
    private static final Pattern FORM = Pattern.compile("(\\d{1,9})([smhdw]?)");

    private Durations() {
    }

    public static Duration parse(String text) {
        Matcher m = FORM.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration: '" + text + "' (write e.g. 300s, 5m, 4000s, 5d)");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "", "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            case "d" -> Duration.ofDays(n);
            case "w" -> Duration.ofDays(7 * n);
            default -> throw new AssertionError();
        };
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
