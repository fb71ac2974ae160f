package io.relay.node.admin;

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
}
