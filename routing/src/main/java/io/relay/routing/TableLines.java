package io.relay.routing;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits Postfix table and main.cf text into logical lines: '#' comment lines and blank
 * lines dropped, a line starting with whitespace joined to the previous one. Each logical
 * line keeps the number of its first physical line for error messages.
 */
final class TableLines {
    record Line(int number, String text) { }

    private TableLines() { }

    /** A main.cf or master.cf list value (items separated by commas or whitespace) as its items. */
    static List<String> items(String value) {
        List<String> out = new ArrayList<>();
        for (String s : value.split("[,\\s]+")) {
            if (!s.isBlank()) {
                out.add(s.trim());
            }
        }
        return out;
    }

    static List<Line> split(String text) {
        List<Line> out = new ArrayList<>();
        if (text == null) {
            return out;
        }
        String[] physical = text.split("\r?\n", -1);
        StringBuilder cur = null;
        int curNo = 0;
        for (int i = 0; i < physical.length; i++) {
            String raw = physical[i];
            String trimmed = raw.strip();
            // Postfix: comments are lines whose first non-whitespace character is '#'
            if (trimmed.isEmpty() || trimmed.startsWith("#")) {
                continue;
            }
            boolean continuation = Character.isWhitespace(raw.charAt(0));
            if (continuation && cur != null) {
                cur.append(' ').append(trimmed);
                continue;
            }
            if (cur != null) {
                out.add(new Line(curNo, cur.toString()));
            }
            cur = new StringBuilder(trimmed);
            curNo = i + 1;
        }
        if (cur != null) {
            out.add(new Line(curNo, cur.toString()));
        }
        return out;
    }
}
