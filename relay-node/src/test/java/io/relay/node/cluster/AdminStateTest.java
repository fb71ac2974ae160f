package io.relay.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.List;
import org.junit.jupiter.api.Test;

class AdminStateTest {
    private static final List<String> CONFIG = List.of("127.0.0.0/8", "10.1.0.0/16");

    @Test
    void addAndRemoveAdjustTheConfiguredNetworks() {
        AdminState s = AdminState.EMPTY.add("10.9.0.0/16", CONFIG, 1);
        assertEquals(List.of("127.0.0.0/8", "10.1.0.0/16", "10.9.0.0/16"), s.effective(CONFIG));
        assertEquals(1, s.version());
        s = s.remove("10.1.0.0/16", CONFIG, 2);
        assertEquals(List.of("127.0.0.0/8", "10.9.0.0/16"), s.effective(CONFIG));
        assertEquals(List.of("10.1.0.0/16"), s.removed());
        s = s.add("10.1.0.0/16", CONFIG, 3);
        assertEquals(List.of(), s.removed());
        assertEquals(List.of(), s.removed());
        s = s.remove("10.9.0.0/16", CONFIG, 4);
        assertEquals(CONFIG, s.effective(CONFIG));
        assertEquals(4, s.version());
    }

    @Test
    void aChangeThatAltersNothingIsNoNewVersion() {
        AdminState s = AdminState.EMPTY.add("10.9.0.0/16", CONFIG, 1);
        assertSame(s, s.add("10.9.0.0/16", CONFIG, 2));
        assertSame(s, s.add("127.0.0.0/8", CONFIG, 2));
        assertSame(s, s.remove("192.168.0.0/16", CONFIG, 2));
    }

    @Test
    void roundTripsThroughJson() {
        AdminState s = new AdminState(7, 123, List.of("10.9.0.0/16"), List.of("127.0.0.0/8"));
        assertEquals(s, AdminState.fromJson(s.toJson()));
    }

    @Test
    void theRoutingOverlayRoundTripsAndAFormatOneValueReadsWithAnEmptyOverlay() {
        AdminState s = new AdminState(9, 5, List.of(), List.of(), AdminState.FORMAT, java.util.Map.of("a.test", "smtp:[b]"),
                List.of("c.test"), java.util.Map.of("[b]", new AdminState.Limit(List.of("1/s"), 2)),
                java.util.Map.of("[b]", new AdminState.Secret("u", "secret-pw")));
        assertEquals(s, AdminState.fromJson(s.toJson()));
        assertEquals(2, AdminState.fromJson(s.toJson()).format());
        AdminState old = AdminState.fromJson("{\"version\":4,\"updatedAt\":1,\"added\":[\"10.9.0.0/16\"],\"removed\":[]}");
        assertEquals(1, old.format());
        assertEquals(java.util.Map.of(), old.transport());
        assertEquals(List.of("10.9.0.0/16"), old.added());
        // a networks change keeps the overlay
        AdminState after = s.add("10.8.0.0/16", CONFIG, 6);
        assertEquals(s.transport(), after.transport());
        assertEquals(s.credentials(), after.credentials());
        assertEquals(10, after.version());
        org.junit.jupiter.api.Assertions.assertFalse(s.toString().contains("secret-pw"), s.toString());
    }
}
