package io.relay.node.dkim;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One header field as it stands in the message: its bytes with every fold and the final
 * CRLF, as simple canonicalization needs them.
 *
 * @param raw   the field's bytes, continuation lines included, ending with its line end
 * @param colon the index of the colon after the name, or -1 for a line without one (which
 *              no name matches, so it is never signed)
 */
public record HeaderField(byte[] raw, int colon) {
    public HeaderField {
        raw = raw.clone();
    }

    @Override
    public byte[] raw() {
        return raw.clone();
    }

    /** A field of these bytes; the colon is found here. */
    public static HeaderField of(byte[] raw) {
        int colon = -1;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == ':') {
                colon = i;
                break;
            }
        }
        return new HeaderField(raw, colon);
    }

    /** The name, lowercased and without trailing whitespace, as h= compares it; empty without a colon. */
    public String lowerName() {
        if (colon < 0) {
            return "";
        }
        return new String(raw, 0, colon, StandardCharsets.ISO_8859_1).strip().toLowerCase(Locale.ROOT);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeaderField f && f.colon == colon && java.util.Arrays.equals(f.raw, raw);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(raw);
    }

    @Override
    public String toString() {
        return "HeaderField[" + new String(raw, StandardCharsets.ISO_8859_1).strip() + "]";
    }
}
