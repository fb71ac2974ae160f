package io.relay.node.dkim;

import java.io.ByteArrayOutputStream;

/**
 * RFC 6376 §3.4's two canonicalizations. Headers are canonicalized here, one field at a
 * time; bodies are streamed through a {@link BodyCanonicalizer}, which this type names.
 * Everything works on bytes: header values may carry 8-bit text (RFC 6532) and bodies raw
 * 8-bit bytes, and a charset round trip would change what is signed.
 */
public enum Canonicalization {
    /** The bytes as they are; body: trailing empty lines removed, an empty body is one CRLF. */
    SIMPLE("simple"),
    /**
     * Headers: name lowercased, folds removed, whitespace runs to one space, none around the
     * colon or at the ends. Body: whitespace runs to one space, none at line ends, trailing
     * empty lines removed, an empty body stays empty.
     */
    RELAXED("relaxed");

    private final String tag;

    Canonicalization(String tag) {
        this.tag = tag;
    }

    /** The name in the c= tag. */
    public String tag() {
        return tag;
    }

    /** The canonical form of one field, ending in CRLF. */
    byte[] header(HeaderField field) {
        byte[] raw = field.raw();
        if (this == SIMPLE) {
            return raw.clone();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length);
        int colon = field.colon();
        int nameEnd = colon;
        while (nameEnd > 0 && isWsp(raw[nameEnd - 1])) {
            nameEnd--;
        }
        for (int i = 0; i < nameEnd; i++) {
            byte b = raw[i];
            out.write(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
        }
        out.write(':');
        // the value: line breaks inside a field are folds and go; whitespace runs become one
        // space, written only when something follows (none at the start or the end)
        boolean pendingSpace = false;
        boolean started = false;
        for (int i = colon + 1; i < raw.length; i++) {
            byte b = raw[i];
            if (b == '\r' || b == '\n') {
                continue;
            }
            if (isWsp(b)) {
                pendingSpace = started;
                continue;
            }
            if (pendingSpace) {
                out.write(' ');
                pendingSpace = false;
            }
            out.write(b);
            started = true;
        }
        out.write('\r');
        out.write('\n');
        return out.toByteArray();
    }

    static boolean isWsp(byte b) {
        return b == ' ' || b == '\t';
    }

    /** {@code simple} or {@code relaxed} to the canonicalization. */
    public static Canonicalization of(String tag) {
        for (Canonicalization c : values()) {
            if (c.tag.equalsIgnoreCase(tag)) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown DKIM canonicalization '" + tag + "' (simple or relaxed)");
    }
}
