package io.relay.queue;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A message's queue id, unique across the cluster: upper-case hex as Postfix writes its
 * short ids, so log tools that match {@code [0-9A-F]+} keep working. Used in the 250
 * reply, in every mail log line and as the key of the cluster store.
 */
public record QueueId(String value) {
    private static final Pattern FORM = Pattern.compile("[0-9A-F]{10,20}");

    public QueueId {
        Objects.requireNonNull(value, "value");
        if (!FORM.matcher(value).matches()) {
            throw new IllegalArgumentException("not a queue id: " + value);
        }
    }

    @Override
    public String toString() {
        return value;
    }
}
