package io.relay.node.dkim;

import java.util.ArrayList;
import java.util.List;

/**
 * The DNS TXT record that publishes a key (RFC 6376 §3.6.1, RFC 8463 for Ed25519), as the
 * text and as one zone-file line an operator pastes:
 * {@code S._domainkey.DOMAIN. IN TXT "v=DKIM1; k=rsa; p=..." "..."}. A TXT character-string
 * holds at most 255 bytes, and an RSA-2048 record is about 410, so the text is cut into
 * several quoted strings on the one line; resolvers hand verifiers their concatenation.
 */
public final class DkimDnsRecord {
    static final int MAX_STRING = 255;

    private DkimDnsRecord() {
    }

    /** The record's text, {@code v=DKIM1; k=rsa; p=...}. */
    public static String text(DkimKey key) {
        return "v=DKIM1; k=" + key.algorithm().keyType() + "; p=" + key.publicKeyBase64();
    }

    /** The text cut into TXT character-strings of at most 255 bytes. */
    public static List<String> strings(DkimKey key) {
        String t = text(key);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < t.length(); i += MAX_STRING) {
            out.add(t.substring(i, Math.min(t.length(), i + MAX_STRING)));
        }
        return List.copyOf(out);
    }

    /** One zone-file line, owner name absolute. */
    public static String zoneLine(DkimKey key) {
        StringBuilder b = new StringBuilder(key.recordName()).append(". IN TXT");
        for (String s : strings(key)) {
            // the text is base64, letters and "=; " only: nothing to escape inside the quotes
            b.append(" \"").append(s).append('"');
        }
        return b.toString();
    }
}
