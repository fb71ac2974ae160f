package io.relay.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.hazelcast.spi.merge.MergingValue;
import io.relay.node.testing.Ports;
import io.relay.queue.ClusterMember;
import io.relay.queue.ClusterSettings;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The split-brain merge of {@code relay-admin} as pure logic on merging values (a real
 * split cannot be made reliably in a test): the higher version wins whichever half it
 * comes from, then the later change; an unreadable value never replaces a state. And a
 * member started with the policy has it on {@code relay-admin}, with the backups of the
 * other {@code relay-*} maps.
 */
class AdminStateMergePolicyTest {
    private final AdminStateMergePolicy policy = new AdminStateMergePolicy();

    private static String state(long version, long updatedAt, String network) {
        return new AdminState(version, updatedAt, List.of(network), List.of()).toJson();
    }

    /** A merging value as Hazelcast hands it over: raw (here a tagged object) and deserialized. */
    @SuppressWarnings("unchecked")
    private static MergingValue<Object> value(String json, Object raw) {
        return (MergingValue<Object>) Proxy.newProxyInstance(MergingValue.class.getClassLoader(),
                new Class<?>[] {MergingValue.class}, (p, m, args) -> switch (m.getName()) {
                    case "getRawValue" -> raw;
                    case "getDeserializedValue", "getValue" -> json;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    @Test
    void theHigherVersionWinsFromEitherHalf() {
        Object v9 = "raw-v9";
        Object v5 = "raw-v5";
        // the smaller half (merging) changed more often while split: its state wins
        assertSame(v9, policy.merge(value(state(9, 100, "10.9.0.0/16"), v9), value(state(5, 200, "10.5.0.0/16"), v5)));
        // the surviving half is newer: it stays
        assertSame(v9, policy.merge(value(state(5, 200, "10.5.0.0/16"), v5), value(state(9, 100, "10.9.0.0/16"), v9)));
    }

    @Test
    void equalVersionsTakeTheLaterChangeThenTheSurvivingValue() {
        Object early = "early";
        Object late = "late";
        assertSame(late, policy.merge(value(state(7, 2_000, "10.2.0.0/16"), late), value(state(7, 1_000, "10.1.0.0/16"), early)));
        assertSame(late, policy.merge(value(state(7, 1_000, "10.1.0.0/16"), early), value(state(7, 2_000, "10.2.0.0/16"), late)));
        Object same = "same";
        assertSame(same, policy.merge(value(state(7, 1_000, "10.1.0.0/16"), "other"), value(state(7, 1_000, "10.1.0.0/16"), same)));
    }

    @Test
    void missingOrUnreadableValues() {
        Object v3 = "raw-v3";
        assertSame(v3, policy.merge(value(state(3, 1, "10.3.0.0/16"), v3), null), "nothing in the surviving half");
        assertSame(v3, policy.merge(value("not json", "junk"), value(state(3, 1, "10.3.0.0/16"), v3)));
        assertSame(v3, policy.merge(value(state(3, 1, "10.3.0.0/16"), v3), value("{broken", "junk")));
    }

    @Test
    void aMemberStartsWithThePolicyOnRelayAdmin() {
        int port = Ports.free();
        ClusterMember member = ClusterMember.start(new ClusterSettings("admin-merge-" + UUID.randomUUID(), "127.0.0.1",
                port, List.of("127.0.0.1:" + port), 1, ClusterSettings.DEFAULT_HEARTBEAT_TIMEOUT,
                ClusterSettings.DEFAULT_MERGE_DELAY, ClusterSettings.Discovery.tcp()), AdminStateMergePolicy::configure);
        try {
            var config = member.hazelcast().getConfig();
            assertEquals(AdminStateMergePolicy.class.getName(),
                    config.getMapConfig(AdminStateStore.MAP).getMergePolicyConfig().getPolicy());
            assertEquals(1, config.getMapConfig(AdminStateStore.MAP).getBackupCount(), "the relay-* settings are kept");
            member.hazelcast().<String, String>getMap(AdminStateStore.MAP).put(AdminStateStore.NETWORKS, state(1, 1, "10.1.0.0/16"));
            assertEquals(Map.of(AdminStateStore.NETWORKS, state(1, 1, "10.1.0.0/16")),
                    Map.copyOf(member.hazelcast().<String, String>getMap(AdminStateStore.MAP)));
        } finally {
            member.close();
        }
    }
}
