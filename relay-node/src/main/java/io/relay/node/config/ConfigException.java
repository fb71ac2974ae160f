package io.relay.node.config;

/** A configuration error: one line naming the file, the key and the reason. The node does not start. */
public final class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
