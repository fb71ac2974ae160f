package io.relay.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.routing.Route;
import io.relay.routing.RoutingConfig;
import io.relay.routing.SaslPasswordTable;
import io.relay.routing.TlsLevel;
import io.relay.routing.TransportSettings;
import io.relay.routing.TransportTable;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RoutingOverlayTest {
    private static final TransportTable FILE = TransportTable.of(Map.of(
            "example.com", "smtp:[file-a.test]:2525",
            "example.org", "smtp:[file-b.test]"));
    private static final RoutingConfig BASE = new RoutingConfig("[relay.test]:587", "smtp",
            new TransportSettings(null, TlsLevel.NONE, null,
                    SaslPasswordTable.parse("[relay.test]:587 fileuser:filepass\n", "sasl"), 5, List.of("9/s"), null, null),
            Map.of(), FILE, null, Set.of());

    private static AdminState state(Map<String, String> transport, List<String> removed,
                                    Map<String, AdminState.Limit> limits, Map<String, AdminState.Secret> creds) {
        return new AdminState(1, 1, List.of(), List.of(), AdminState.FORMAT, transport, removed, limits, creds);
    }

    @Test
    void adminEntriesWinOverTheFileAndRemovedFileEntriesNoLongerMatch() {
        TransportTable t = RoutingOverlay.merge(FILE, Map.of("example.com", "smtp:[admin.test]", "new.test", ":[n.test]"),
                List.of("example.org"));
        assertEquals("smtp:[admin.test]", t.lookup("a@example.com").orElseThrow().entry().result());
        assertEquals(":[n.test]", t.lookup("a@new.test").orElseThrow().entry().result());
        assertTrue(t.lookup("a@example.org").isEmpty());
    }

    @Test
    void theRouterFollowsEachAppliedStateAndAnEmptyStateRestoresTheFile() {
        RoutingOverlay o = new RoutingOverlay(BASE);
        assertEquals("[file-a.test]:2525", o.route("u@example.com", "").nextHop().text());
        o.apply(state(Map.of("example.com", "smtp:[admin.test]:2526"), List.of(), Map.of(), Map.of()));
        Route r = o.route("u@example.com", "");
        assertEquals("[admin.test]:2526", r.nextHop().text());
        assertEquals("transport_maps: example.com", r.matchedBy());
        o.apply(state(Map.of(), List.of("example.com"), Map.of(), Map.of()));
        assertEquals("[relay.test]:587", o.route("u@example.com", "").nextHop().text(), "falls to relayhost");
        o.apply(AdminState.EMPTY);
        assertEquals("[file-a.test]:2525", o.route("u@example.com", "").nextHop().text());
    }

    @Test
    void limitsOfANextHopReplaceOnlyTheFieldsTheySet() {
        RoutingOverlay o = new RoutingOverlay(BASE);
        assertEquals(new Route.Limits(5, List.of("9/s")), o.route("u@elsewhere.test", "").limits());
        o.apply(state(Map.of(), List.of(), Map.of("[relay.test]:587", new AdminState.Limit(List.of("1/s", "100/h"), null)),
                Map.of()));
        Route r = o.route("u@elsewhere.test", "");
        assertEquals(new Route.Limits(5, List.of("1/s", "100/h")), r.limits());
        assertTrue(r.matchedBy().endsWith("; admin limits: [relay.test]:587"), r.matchedBy());
        // a bare host covers every port; the exact next hop wins over it
        o.apply(state(Map.of(), List.of(), Map.of("relay.test", new AdminState.Limit(null, 2),
                "[file-a.test]:2525", new AdminState.Limit(null, 3)), Map.of()));
        assertEquals(new Route.Limits(2, List.of("9/s")), o.route("u@elsewhere.test", "").limits());
        assertEquals(3, o.route("u@example.com", "").limits().concurrency());
    }

    @Test
    void adminCredentialsWinOverTheSaslTable() {
        RoutingOverlay o = new RoutingOverlay(BASE);
        assertEquals("fileuser", o.route("u@elsewhere.test", "").credentials().username());
        assertNull(o.route("u@example.com", "").credentials());
        o.apply(state(Map.of(), List.of(), Map.of(), Map.of("[relay.test]:587", new AdminState.Secret("adm", "pw1"),
                "file-a.test", new AdminState.Secret("a2", "pw2"))));
        assertEquals("adm", o.route("u@elsewhere.test", "").credentials().username());
        assertEquals("pw1", o.route("u@elsewhere.test", "").credentials().password());
        assertEquals("a2", o.route("u@example.com", "").credentials().username());
        assertFalse(o.route("u@example.com", "").describe().contains("pw2"));
    }

    @Test
    void aStateThatCannotBeBuiltIsRefusedByCheckAndIgnoredByApply() {
        RoutingOverlay o = new RoutingOverlay(BASE);
        AdminState bad = state(Map.of("x.test", "smtp:[a b]"), List.of(), Map.of(), Map.of());
        assertThrows(IllegalArgumentException.class, () -> o.check(bad));
        o.apply(bad);
        assertEquals("[file-a.test]:2525", o.route("u@example.com", "").nextHop().text());
    }

    @Test
    void nextHopKeysAreNormalized() {
        assertEquals("[mx.test]", RoutingOverlay.nextHopKey("[MX.test]:25"));
        assertEquals("[mx.test]:587", RoutingOverlay.nextHopKey(" [mx.test]:submission "));
        assertEquals("mx.test", RoutingOverlay.nextHopKey("mx.test"));
        assertThrows(IllegalArgumentException.class, () -> RoutingOverlay.nextHopKey("[mx.test"));
    }
}
