package io.relay.queue;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;

/**
 * The cluster store of queued mail, as the queue's parts reach it: {@code relay-messages}
 * (id → encoded message), {@code relay-meta} (id → encoded {@link QueueMeta}) and
 * {@code relay-done} (tombstones of finished messages). Proxies only: the data lives in
 * Hazelcast's partitions.
 */
record QueueMaps(IMap<String, byte[]> messages, IMap<String, byte[]> meta, IMap<String, Long> done) {
    static QueueMaps of(HazelcastInstance hazelcast) {
        return new QueueMaps(hazelcast.getMap(ClusterMember.MESSAGES_MAP), hazelcast.getMap(ClusterMember.META_MAP),
                hazelcast.getMap(ClusterQueue.DONE_MAP));
    }
}
