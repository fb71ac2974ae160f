package io.relay.routing;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A rate written {@code N/unit}: {@code 14/s}, {@code 200/m}, {@code 1000/h},
 * {@code 50000/d}. N is a positive integer; the unit is one of s, m, h, d.
 *
 * @param permits how many messages per period
 * @param period  the period
 * @param text    the rate as written (normalised, e.g. "14/s")
 */
public record RateLimit(long permits, Duration period, String text) {
    private static final Pattern FORM = Pattern.compile("(\\d{1,12})\\s*/\\s*([smhd])");

    public static RateLimit parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("rate is missing; write N/unit with unit s, m, h or d, e.g. 14/s");
        }
        Matcher m = FORM.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("rate '" + text + "' is not N/unit with unit s, m, h or d (e.g. 14/s, 50000/d)");
        }
        long n = Long.parseLong(m.group(1));
        if (n == 0) {
            throw new IllegalArgumentException("rate '" + text + "' allows no messages; the count must be at least 1");
        }
        Duration period = switch (m.group(2)) {
            case "s" -> Duration.ofSeconds(1);
            case "m" -> Duration.ofMinutes(1);
            case "h" -> Duration.ofHours(1);
            default -> Duration.ofDays(1);
        };
        return new RateLimit(n, period, n + "/" + m.group(2));
    }

    @Override
    public String toString() {
        return text;
    }
}
