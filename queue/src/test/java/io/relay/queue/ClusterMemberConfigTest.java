package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Hazelcast Config that {@link ClusterMember} builds from the settings (no member is started). */
class ClusterMemberConfigTest {

    private static ClusterSettings settings(String host, ClusterSettings.Discovery discovery, List<String> members) {
        return new ClusterSettings("mail", host, 5701, members, 1, Duration.ofSeconds(5), Duration.ofSeconds(7),
                discovery);
    }

    @Test
    void staticMembersJoinOverTcpIp() {
        Config c = ClusterMember.config(settings("10.0.0.1", ClusterSettings.Discovery.tcp(),
                List.of("10.0.0.1:5701", "10.0.0.2:5701", "10.0.0.3:5701")));
        JoinConfig join = c.getNetworkConfig().getJoin();
        assertTrue(join.getTcpIpConfig().isEnabled());
        assertEquals(List.of("10.0.0.1:5701", "10.0.0.2:5701", "10.0.0.3:5701"), join.getTcpIpConfig().getMembers());
        assertFalse(join.getAwsConfig().isEnabled());
        assertFalse(join.getKubernetesConfig().isEnabled());
        assertFalse(join.getMulticastConfig().isEnabled());
        assertFalse(join.getAutoDetectionConfig().isEnabled());
        assertEquals("mail", c.getClusterName());
        assertEquals(List.of("10.0.0.1"), List.copyOf(c.getNetworkConfig().getInterfaces().getInterfaces()));
        assertEquals("false", c.getProperty("hazelcast.socket.bind.any"));
        assertEquals("10.0.0.1", c.getProperty("hazelcast.local.localAddress"));
    }

    @Test
    void heartbeatTimeoutAndMergeDelayBecomeHazelcastProperties() {
        Config c = ClusterMember.config(settings("127.0.0.1", ClusterSettings.Discovery.tcp(), List.of()));
        assertEquals("5", c.getProperty("hazelcast.max.no.heartbeat.seconds"));
        assertEquals("1", c.getProperty("hazelcast.heartbeat.interval.seconds"), "a few heartbeats per timeout");
        assertEquals("7", c.getProperty("hazelcast.merge.first.run.delay.seconds"));
        assertEquals("7", c.getProperty("hazelcast.merge.next.run.delay.seconds"));

        Config defaults = ClusterMember.config(new ClusterSettings("relay", "127.0.0.1", 5701, List.of(), 1));
        assertEquals("60", defaults.getProperty("hazelcast.max.no.heartbeat.seconds"));
        assertEquals("5", defaults.getProperty("hazelcast.heartbeat.interval.seconds"));
        assertEquals("120", defaults.getProperty("hazelcast.merge.first.run.delay.seconds"));
        assertEquals("120", defaults.getProperty("hazelcast.merge.next.run.delay.seconds"));
    }

    @Test
    void awsDiscoveryPassesItsPropertiesAndTurnsTcpIpOff() {
        Map<String, String> aws = Map.of("region", "eu-west-1", "tag-key", "relay-cluster", "tag-value", "prod",
                "hz-port", "5701");
        Config c = ClusterMember.config(settings("10.0.1.5", ClusterSettings.Discovery.aws(aws), List.of()));
        JoinConfig join = c.getNetworkConfig().getJoin();
        assertTrue(join.getAwsConfig().isEnabled());
        assertEquals(aws, join.getAwsConfig().getProperties());
        assertFalse(join.getTcpIpConfig().isEnabled());
        assertFalse(join.getKubernetesConfig().isEnabled());
        assertFalse(join.getMulticastConfig().isEnabled());
        assertFalse("1".equals(c.getProperty("hazelcast.max.join.seconds")), "not a lone member: normal join wait");
    }

    @Test
    void kubernetesDiscoveryPassesItsPropertiesAndTurnsTcpIpOff() {
        Map<String, String> k8s = Map.of("namespace", "mail", "service-name", "relay-hz");
        Config c = ClusterMember.config(settings("10.244.0.7", ClusterSettings.Discovery.kubernetes(k8s), List.of()));
        JoinConfig join = c.getNetworkConfig().getJoin();
        assertTrue(join.getKubernetesConfig().isEnabled());
        assertEquals(k8s, join.getKubernetesConfig().getProperties());
        assertFalse(join.getTcpIpConfig().isEnabled());
        assertFalse(join.getAwsConfig().isEnabled());
    }

    @Test
    void anyAddressBindsAllInterfaces() {
        Config c = ClusterMember.config(settings("0.0.0.0", ClusterSettings.Discovery.tcp(), List.of()));
        assertEquals("true", c.getProperty("hazelcast.socket.bind.any"));
        assertFalse(c.getNetworkConfig().getInterfaces().isEnabled());
        assertTrue(settings("::", ClusterSettings.Discovery.tcp(), List.of()).bindsAny());
        assertFalse(settings("::1", ClusterSettings.Discovery.tcp(), List.of()).bindsAny());
    }

    @Test
    void discoveryNeverPrintsPropertyValues() {
        String text = settings("10.0.0.1", ClusterSettings.Discovery.aws(Map.of("access-key", "AKIAEXAMPLE",
                "secret-key", "very-secret")), List.of()).toString();
        assertFalse(text.contains("very-secret") || text.contains("AKIAEXAMPLE"), text);
        assertTrue(text.contains("aws"), text);
    }
}
