package io.relay.queue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The operator's views of the store: cluster-wide listings and selections (a Hazelcast
 * predicate, {@link QueueOps.Matches}, evaluated on the owners, so only matches travel),
 * and one message. Reads only; blocking cluster calls, not for an event loop.
 */
final class OperatorViews {
    private static final Comparator<QueueView.Entry> OLDEST_FIRST =
            Comparator.comparingLong((QueueView.Entry e) -> e.meta().arrivalMillis()).thenComparing(e -> e.id().value());

    private final QueueMaps maps;
    private final BodyStore bodies;

    OperatorViews(QueueMaps maps, BodyStore bodies) {
        this.maps = maps;
        this.bodies = bodies;
    }

    List<QueueView.Entry> clusterEntries(String state, String nextHop) {
        Collection<Map.Entry<String, byte[]>> found = state == null && nextHop == null ? maps.meta().entrySet()
                : maps.meta().entrySet(new QueueOps.Matches(state, nextHop));
        List<QueueView.Entry> out = new ArrayList<>(found.size());
        for (Map.Entry<String, byte[]> e : found) {
            out.add(new QueueView.Entry(new QueueId(e.getKey()), BinaryCodec.decodeMeta(e.getValue())));
        }
        out.sort(OLDEST_FIRST);
        return out;
    }

    List<String> select(String state, String nextHop) {
        Set<String> keys = state == null && nextHop == null ? maps.meta().keySet()
                : maps.meta().keySet(new QueueOps.Matches(state, nextHop));
        List<String> out = new ArrayList<>(keys);
        // queue ids begin with their accept time: roughly oldest first without reading states
        out.sort(Comparator.naturalOrder());
        return out;
    }

    Map<String, String> clusterSenders() {
        Map<String, String> out = new HashMap<>();
        for (String[] pair : maps.meta().project(new QueueOps.Sender())) {
            out.put(pair[0], pair[1]);
        }
        return out;
    }

    Optional<Map.Entry<QueueMeta, QueuedMessage>> find(String id) {
        byte[] state = maps.meta().get(id);
        if (state == null) {
            return Optional.empty();
        }
        QueueMeta meta = BinaryCodec.decodeMeta(state);
        return Optional.of(Map.entry(meta, bodies.view(id, meta.holders()).orElse(null)));
    }
}
