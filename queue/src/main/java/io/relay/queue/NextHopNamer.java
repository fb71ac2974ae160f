package io.relay.queue;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Names where a message's pending recipients go, for the operator's view of the queue
 * ({@code relayctl queue summary}, {@code --nexthop} selections): the node supplies the
 * router's decision (e.g. {@code [email-smtp.us-east-1.amazonaws.com]:587}). The queue
 * asks at accept and after each attempt, and stores the answer in {@link QueueMeta}, so
 * reading and selecting by next hop costs no routing and runs on the partition owners.
 * Must be fast, pure and thread-safe; it runs on queue threads.
 */
@FunctionalInterface
public interface NextHopNamer {
    /** Distinct next hops of these recipients of a message from {@code sender}, in recipient order. */
    List<String> nextHops(String sender, List<String> recipients);

    /** Without a router: each recipient's domain, lower case ("(local)" without one). */
    NextHopNamer RECIPIENT_DOMAIN = (sender, recipients) -> {
        Set<String> out = new LinkedHashSet<>();
        for (String r : recipients) {
            int at = r.lastIndexOf('@');
            out.add(at < 0 ? "(local)" : r.substring(at + 1).toLowerCase(Locale.ROOT));
        }
        return List.copyOf(out);
    };
}
