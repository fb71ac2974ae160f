package io.relay.queue;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;

/**
 * The cluster's queue index, as the queue's parts reach it: {@code relay-meta} (id →
 * encoded {@link QueueMeta}: envelope summary, state, holders of the body) and
 * {@code relay-done} (tombstones of finished messages). Proxies only: the data lives in
 * Hazelcast's partitions; bodies live on disk ({@link BodyStore}).
 */
record QueueMaps(IMap<String, byte[]> meta, IMap<String, Long> done) {
    static QueueMaps of(HazelcastInstance hazelcast) {
        return new QueueMaps(hazelcast.getMap(ClusterMember.META_MAP), hazelcast.getMap(ClusterQueue.DONE_MAP));
    }
}
