package io.relay.node.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.MergePolicyConfig;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.spi.merge.SplitBrainMergePolicy;
import com.hazelcast.spi.merge.MergingValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The split-brain merge of {@code relay-admin}: when the two halves of a split cluster meet
 * again, the admin state with the higher version wins, whichever half it was changed in
 * (Hazelcast's default would keep the larger half's value, losing newer changes made in
 * the smaller one). Equal versions: the later {@code updatedAt}, then the value already in
 * the surviving half. The losing half's changes since the split are dropped (each state is
 * a whole value, not a log of changes) and a WARN line says which version gave way.
 *
 * <p>It needs only the values (no per-entry statistics, which maps keep off by default).
 * Runs on Hazelcast's merge threads of the member that owns the entry; Hazelcast makes it
 * by class name on each member, hence public, a no-arg constructor and no state.
 */
public final class AdminStateMergePolicy implements SplitBrainMergePolicy<Object, MergingValue<Object>, Object> {
    private static final Logger LOG = LoggerFactory.getLogger(AdminStateMergePolicy.class);

    /** Sets this policy on {@code relay-admin} (keeping the settings the map had from its wildcard config). */
    public static void configure(Config config) {
        config.getMapConfig(AdminStateStore.MAP)
                .setMergePolicyConfig(new MergePolicyConfig(AdminStateMergePolicy.class.getName(),
                        MergePolicyConfig.DEFAULT_BATCH_SIZE));
    }

    @Override
    public Object merge(MergingValue<Object> merging, MergingValue<Object> existing) {
        if (existing == null) {
            return merging == null ? null : merging.getRawValue();
        }
        if (merging == null) {
            return existing.getRawValue();
        }
        return mergingWins(String.valueOf(merging.getDeserializedValue()),
                String.valueOf(existing.getDeserializedValue())) ? merging.getRawValue() : existing.getRawValue();
    }

    /** True when the merging half's state replaces the surviving half's; an unreadable value never wins. */
    static boolean mergingWins(String mergingJson, String existingJson) {
        AdminState merging;
        try {
            merging = AdminState.fromJson(mergingJson);
        } catch (IllegalArgumentException e) {
            return false;
        }
        AdminState existing;
        try {
            existing = AdminState.fromJson(existingJson);
        } catch (IllegalArgumentException e) {
            return true;
        }
        boolean wins = merging.version() > existing.version()
                || merging.version() == existing.version() && merging.updatedAt() > existing.updatedAt();
        if (wins) {
            LOG.warn("admin state merge after a split: version {} replaces version {}", merging.version(),
                    existing.version());
        } else if (!merging.equals(existing)) {
            LOG.warn("admin state merge after a split: version {} stays, version {} of the other half is dropped",
                    existing.version(), merging.version());
        }
        return wins;
    }

    @Override
    public void writeData(ObjectDataOutput out) {
        // no state
    }

    @Override
    public void readData(ObjectDataInput in) {
        // no state
    }
}
