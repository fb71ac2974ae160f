package io.relay.node.delivery;

import java.net.UnknownHostException;

/** The domain publishes a null MX (RFC 7505, {@code 0 .}): it accepts no mail, a permanent failure (5.1.10). */
public final class NullMxException extends UnknownHostException {
    private static final long serialVersionUID = 1L;

    public NullMxException(String domain) {
        super(domain);
    }
}
