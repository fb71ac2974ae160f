package io.relay.node.dkim;

import java.util.ArrayList;
import java.util.List;

/**
 * Lays out a DKIM-Signature field: its tags in order, folded so no line passes 78
 * characters (RFC 5322 §2.1.1), with b= last and alone from its own line on, so the text
 * before the signature is the same whether b= is empty (what is signed) or filled.
 *
 * <p>Tags are moved whole to the next line when they do not fit; h= is broken after a
 * colon and base64 values anywhere, both places where RFC 6376 allows folding whitespace.
 */
final class SignatureField {
    static final String NAME = "DKIM-Signature";
    static final int MAX_LINE = 78;
    private static final String FOLD = "\r\n ";

    private final StringBuilder text = new StringBuilder(NAME).append(':');
    private int lineLength = NAME.length() + 1;

    /** A tag that fits on a line ({@code v}, {@code a}, {@code d}, ...). */
    SignatureField tag(String name, String value) {
        String t = name + "=" + value + ";";
        if (lineLength + 1 + t.length() > MAX_LINE) {
            newLine();
        } else {
            text.append(' ');
            lineLength++;
        }
        text.append(t);
        lineLength += t.length();
        return this;
    }

    /** The h= tag, broken after colons where it runs long. */
    SignatureField headers(List<String> names) {
        List<String> pieces = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            pieces.add(names.get(i) + (i < names.size() - 1 ? ":" : ";"));
        }
        return broken("h=", pieces);
    }

    /** A base64 tag (bh=), broken anywhere when it does not fit. */
    SignatureField base64(String name, String value) {
        String t = name + "=" + value + ";";
        if (lineLength + 1 + t.length() <= MAX_LINE) {
            return tag(name, value);
        }
        List<String> pieces = new ArrayList<>();
        for (int i = 0; i < value.length(); i++) {
            pieces.add(String.valueOf(value.charAt(i)));
        }
        pieces.add(";");
        return broken(name + "=", pieces);
    }

    /** The text up to and including "b=", always at the start of a line: what is signed, and what b follows. */
    String withEmptyB() {
        newLine();
        text.append("b=");
        lineLength += 2;
        return text.toString();
    }

    /** The whole field with b= filled and the final CRLF; call after {@link #withEmptyB()}. */
    String withB(String base64) {
        StringBuilder out = new StringBuilder(text);
        int len = lineLength;
        for (int i = 0; i < base64.length(); i++) {
            if (len + 1 > MAX_LINE) {
                out.append(FOLD);
                len = 1;
            }
            out.append(base64.charAt(i));
            len++;
        }
        return out.append("\r\n").toString();
    }

    private SignatureField broken(String start, List<String> pieces) {
        if (lineLength + 1 + start.length() + pieces.get(0).length() > MAX_LINE) {
            newLine();
        } else {
            text.append(' ');
            lineLength++;
        }
        text.append(start);
        lineLength += start.length();
        for (String p : pieces) {
            if (lineLength + p.length() > MAX_LINE) {
                newLine();
            }
            text.append(p);
            lineLength += p.length();
        }
        return this;
    }

    private void newLine() {
        text.append(FOLD);
        lineLength = 1;
    }
}
