package io.relay.node.log;

/**
 * Makes client-controlled text inert before it is written to the mail log or into a header we
 * write, as Postfix's {@code printable()} does: every character that could end a line, move the
 * cursor, colour a terminal or reorder what a reader sees is replaced with {@code '?'}.
 *
 * <p>Masked: C0 controls (TAB included, as Postfix does), DEL, C1 controls (U+0080-U+009F, so
 * U+0085 NEL), Unicode format characters (Cf: the bidi embeddings and overrides U+202A-U+202E,
 * the isolates U+2066-U+2069, the marks U+200E/U+200F/U+061C, zero-width characters, U+FEFF),
 * the line and paragraph separators U+2028/U+2029, and lone surrogates. Other non-ASCII text
 * (an SMTPUTF8 address) is kept.
 *
 * <p>Strategy: the common case is printable ASCII, so one scan answers it and returns the same
 * String without allocating; a copy is made only from the first character that needs masking.
 */
public final class Printable {
    private Printable() {
    }

    /** {@code text} with every non-printable character replaced by '?'; the same instance when none is. */
    public static String mask(String text) {
        if (text == null) {
            return null;
        }
        int first = firstUnprintable(text);
        if (first < 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        out.append(text, 0, first);
        for (int i = first; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int width = Character.charCount(cp);
            if (printable(cp)) {
                out.append(text, i, i + width);
            } else {
                out.append('?');
            }
            i += width;
        }
        return out.toString();
    }

    /** Whether {@code text} has nothing {@link #mask} would replace. */
    public static boolean isPrintable(String text) {
        return firstUnprintable(text) < 0;
    }

    private static int firstUnprintable(String text) {
        for (int i = 0, n = text.length(); i < n; i++) {
            char c = text.charAt(i);
            if (c >= 0x20 && c < 0x7F) {
                continue; // printable ASCII: the hot path
            }
            int cp = text.codePointAt(i);
            if (!printable(cp)) {
                return i;
            }
            if (Character.isSupplementaryCodePoint(cp)) {
                i++;
            }
        }
        return -1;
    }

    private static boolean printable(int cp) {
        if (cp < 0x80) {
            return cp >= 0x20 && cp != 0x7F;
        }
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                 Character.SURROGATE -> false;
            default -> true;
        };
    }
}
