package io.relay.routing;

import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Postfix time value ({@code 3600s}, {@code 5m}, {@code 1h}, {@code 5d}, {@code 1w}): a
 * number of up to nine digits (Postfix keeps them in an int) and an optional unit s, m, h,
 * d or w. The one parser of them: the node's YAML ({@code queue.maximal-queue-lifetime}
 * ...) and the Postfix import ({@code main.cf}'s {@code *_time} parameters) both read
 * through it, and each words a refusal for its own reader.
 */
public final class PostfixDuration {
    private static final Pattern FORM = Pattern.compile("(\\d{1,9})([smhdw]?)");

    private PostfixDuration() {
    }

    /** {@code text} (trimmed) as a duration; a bare number is in {@code defaultUnit}. Empty when it is none. */
    public static Optional<Duration> parse(String text, char defaultUnit) {
        Matcher m = FORM.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            return Optional.empty();
        }
        long n = Long.parseLong(m.group(1));
        char unit = m.group(2).isEmpty() ? defaultUnit : m.group(2).charAt(0);
        return Optional.of(switch (unit) {
            case 'm' -> Duration.ofMinutes(n);
            case 'h' -> Duration.ofHours(n);
            case 'd' -> Duration.ofDays(n);
            case 'w' -> Duration.ofDays(7 * n);
            default -> Duration.ofSeconds(n);
        });
    }
}
