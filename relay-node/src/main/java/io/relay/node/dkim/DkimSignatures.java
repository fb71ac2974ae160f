package io.relay.node.dkim;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The DKIM-Signature fields a signer made for one message, one per key, each folded and
 * ending in CRLF: prepend {@link #bytes()} to the message as it will be sent.
 */
public record DkimSignatures(List<String> fields) {
    public DkimSignatures {
        fields = List.copyOf(fields);
    }

    /** The fields in order, as US-ASCII (a signature holds nothing else). */
    public byte[] bytes() {
        return String.join("", fields).getBytes(StandardCharsets.US_ASCII);
    }
}
