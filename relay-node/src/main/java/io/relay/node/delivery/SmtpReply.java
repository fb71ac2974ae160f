package io.relay.node.delivery;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One (possibly multi-line) SMTP reply: its code and its text lines without the code. */
public record SmtpReply(int code, List<String> lines) {
    private static final Pattern ENHANCED = Pattern.compile("^([245])\\.(\\d{1,3})\\.(\\d{1,3})\\b");

    public SmtpReply {
        lines = List.copyOf(lines);
    }

    public boolean positive() {
        return code >= 200 && code < 400;
    }

    public boolean permanent() {
        return code >= 500;
    }

    /** The enhanced status code (RFC 3463) of the first line, or one derived from the reply class. */
    public String dsn() {
        Matcher m = ENHANCED.matcher(lines.isEmpty() ? "" : lines.get(0));
        if (m.find() && m.group(1).charAt(0) == Integer.toString(code).charAt(0)) {
            return m.group(1) + "." + m.group(2) + "." + m.group(3);
        }
        return (code / 100) + ".0.0";
    }

    /** The reply as Postfix quotes it in a status: code and lines joined by spaces. */
    public String text() {
        return code + " " + String.join(" ", lines);
    }

    @Override
    public String toString() {
        return text();
    }
}
