package io.relay.health;

import java.util.Map;

/**
 * The evaluated state of a list of checks, and its small JSON body. JSON is written by hand
 * here (a handful of string keys and booleans) so the module needs no JSON library.
 */
record HealthReport(boolean ok, Map<String, ReadinessCheck.Result> results) {

    String toJson(String okStatus, String failStatus) {
        StringBuilder sb = new StringBuilder(64 + 48 * results.size());
        sb.append("{\"status\":");
        appendString(sb, ok ? okStatus : failStatus);
        sb.append(",\"checks\":{");
        boolean first = true;
        for (Map.Entry<String, ReadinessCheck.Result> e : results.entrySet()) {
            if (!first) {
                sb.append(',');
            }
            first = false;
            appendString(sb, e.getKey());
            sb.append(":{\"ok\":").append(e.getValue().ok());
            if (e.getValue().reason() != null) {
                sb.append(",\"reason\":");
                appendString(sb, e.getValue().reason());
            }
            sb.append('}');
        }
        return sb.append("}}").toString();
    }

    /** RFC 8259 string: quote, backslash and control characters escaped. */
    static void appendString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (ch < 0x20 || ch == 0x2028 || ch == 0x2029) {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
        }
        sb.append('"');
    }
}
