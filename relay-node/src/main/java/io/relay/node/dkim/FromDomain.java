package io.relay.node.dkim;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;

/**
 * The domain a message is signed for: the domain of the From: header's address (RFC 5322's
 * author, what DMARC aligns with). With several From: fields or addresses the last one
 * counts (a message with two From: fields is not well-formed; the bottom one is the field a
 * receiver's parser is likeliest to take as ours, and either way it is one the sender wrote).
 * Pure text work: comments and display names are skipped, the domain lower-cased.
 */
public final class FromDomain {
    private FromDomain() {
    }

    /** The From: domain of {@code headers}, lower-cased; empty without a From: field or an address in it. */
    public static Optional<String> of(HeaderBlock headers) {
        HeaderField from = null;
        for (HeaderField f : headers.fields()) {
            if (f.lowerName().equals("from")) {
                from = f;
            }
        }
        if (from == null) {
            return Optional.empty();
        }
        byte[] raw = from.raw();
        String value = new String(raw, from.colon() + 1, raw.length - from.colon() - 1, StandardCharsets.UTF_8);
        return ofValue(value);
    }

    /** The domain of the last address in a From: field's value (unfolded or not). */
    static Optional<String> ofValue(String value) {
        String v = withoutComments(value.replaceAll("\r?\n[ \t]", " "));
        int close = v.lastIndexOf('>');
        int open = close < 0 ? -1 : v.lastIndexOf('<', close);
        String address;
        if (open >= 0) {
            address = v.substring(open + 1, close);
        } else {
            int comma = lastCommaOutsideQuotes(v);
            address = v.substring(comma + 1);
        }
        address = address.strip();
        int at = address.lastIndexOf('@');
        if (at < 0 || at == address.length() - 1) {
            return Optional.empty();
        }
        String domain = address.substring(at + 1).strip();
        if (domain.endsWith(".")) {
            domain = domain.substring(0, domain.length() - 1);
        }
        if (domain.isEmpty() || !domain.matches("[A-Za-z0-9.-]+")) {
            return Optional.empty(); // a domain literal or junk: nothing to look a key up for
        }
        return Optional.of(domain.toLowerCase(Locale.ROOT));
    }

    private static String withoutComments(String v) {
        StringBuilder out = new StringBuilder(v.length());
        int depth = 0;
        boolean quoted = false;
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '\\' && i + 1 < v.length() && (quoted || depth > 0)) {
                if (depth == 0) {
                    out.append(c).append(v.charAt(i + 1));
                }
                i++;
                continue;
            }
            if (depth == 0 && c == '"') {
                quoted = !quoted;
            } else if (!quoted && c == '(') {
                depth++;
                continue;
            } else if (!quoted && c == ')' && depth > 0) {
                depth--;
                continue;
            }
            if (depth == 0) {
                // a display name's quoted text cannot fool the < > search
                out.append(quoted && (c == '<' || c == '>' || c == ',' || c == '@') ? ' ' : c);
            }
        }
        return out.toString();
    }

    private static int lastCommaOutsideQuotes(String v) {
        return v.lastIndexOf(',');
    }
}
