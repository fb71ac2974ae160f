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
        assertEquals(AdminState.FORMAT, AdminState.fromJson(s.toJson()).format());
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

    private static final String HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

    @Test
    void usersRoundTripWithTheirHashAndNeverShowIt() {
        AdminState s = AdminState.EMPTY.withUsers(java.util.Map.of(
                "webapp", new AdminState.User(HASH, List.of("@example.com"), List.of("100/m")),
                "lambda", new AdminState.User(HASH, List.of(), List.of()))).next(7);
        AdminState back = AdminState.fromJson(s.toJson());
        assertEquals(s, back);
        assertEquals(AdminState.FORMAT, back.format());
        org.junit.jupiter.api.Assertions.assertTrue(back.usersTable());
        assertEquals(HASH, back.users().get("webapp").hash());
        assertEquals(List.of("@example.com"), back.users().get("webapp").senders());
        assertEquals(List.of("lambda", "webapp"), List.copyOf(back.users().keySet()));
        org.junit.jupiter.api.Assertions.assertFalse(s.toString().contains(HASH), s.toString());
        org.junit.jupiter.api.Assertions.assertFalse(s.toString().contains("c2FsdHNhbHRzYWx0c2FsdA"), s.toString());
        org.junit.jupiter.api.Assertions.assertFalse(s.users().toString().contains("argon2"), s.users().toString());
        org.junit.jupiter.api.Assertions.assertTrue(s.toString().contains("users [lambda, webapp]"), s.toString());
        // other changes keep the users and the table
        AdminState after = s.add("10.8.0.0/16", CONFIG, 8);
        assertEquals(s.users(), after.users());
        org.junit.jupiter.api.Assertions.assertTrue(after.usersTable());
        // an emptied table is still a table (a removed bootstrap user must not come back)
        AdminState emptied = s.withUsers(java.util.Map.of()).next(9);
        org.junit.jupiter.api.Assertions.assertTrue(AdminState.fromJson(emptied.toJson()).usersTable());
        org.junit.jupiter.api.Assertions.assertFalse(emptied.sameContent(s));
    }

    @Test
    void aFormatTwoFileReadsAsOneThatNeverHadAUsersTable() {
        String format2 = "{\"version\":12,\"updatedAt\":5,\"added\":[\"10.9.0.0/16\"],\"removed\":[],\"format\":2,"
                + "\"transport\":{\"a.test\":\"smtp:[b]\"},\"transportRemoved\":[],\"limits\":{},"
                + "\"credentials\":{\"[b]\":{\"user\":\"u\",\"password\":\"p\"}}}";
        AdminState old = AdminState.fromJson(format2);
        assertEquals(2, old.format());
        assertEquals(12, old.version());
        assertEquals(java.util.Map.of(), old.users());
        org.junit.jupiter.api.Assertions.assertFalse(old.usersTable());
        assertEquals("smtp:[b]", old.transport().get("a.test"));
        // its next version is written in this format, still without a users table
        AdminState next = AdminState.fromJson(old.add("10.7.0.0/16", CONFIG, 6).toJson());
        assertEquals(AdminState.FORMAT, next.format());
        org.junit.jupiter.api.Assertions.assertFalse(next.usersTable());
        assertEquals(old.credentials(), next.credentials());
    }
}
