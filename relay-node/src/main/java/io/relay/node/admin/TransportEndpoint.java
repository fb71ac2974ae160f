package io.relay.node.admin;

import io.relay.admin.api.AdminApi;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.AdminStateStore;
import io.relay.node.cluster.RoutingOverlay;
import io.relay.routing.Agent;
import io.relay.routing.Route;
import io.relay.routing.TransportTable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/transport}: the transport table overlay for the whole cluster. {@code GET}
 * lists the entries in force on this node (config file and admin, admin wins); {@code POST}
 * with {@code {"set":{"PATTERN":"transport:nexthop"},"remove":[...],"importText":"...",
 * "importSource":"name"}} applies one change set (an import is a transport(5) file's text,
 * parsed by {@link TransportTable#parse}): every entry is checked first and one bad entry
 * refuses the whole request. {@code GET /admin/v1/transport/test?address=A&sender=S} answers
 * the route this node takes now, as {@code relay-node route} prints it. Audited to
 * {@code admin.audit}.
 */
final class TransportEndpoint {
    static final String PATH = "/admin/v1/transport";
    static final String TEST = "/admin/v1/transport/test";
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    private final AdminStateStore store;
    private final RoutingOverlay overlay;

    TransportEndpoint(AdminStateStore store, RoutingOverlay overlay) {
        this.store = store;
        this.overlay = overlay;
    }

    AdminApi.Transport list() {
        return listing(store.state(), null);
    }

    private AdminApi.Transport listing(AdminState s, List<String> warnings) {
        List<AdminApi.TransportEntry> out = new ArrayList<>();
        for (TransportTable.Entry e : overlay.effective().entries()) {
            String key = e.key().toLowerCase(Locale.ROOT);
            out.add(new AdminApi.TransportEntry(key, e.result(), s.transport().containsKey(key) ? "admin" : "config"));
        }
        for (TransportTable.Entry e : overlay.configured().entries()) {
            String key = e.key().toLowerCase(Locale.ROOT);
            if (s.transportRemoved().contains(key) && !s.transport().containsKey(key)) {
                out.add(new AdminApi.TransportEntry(key, e.result(), "config, removed by admin"));
            }
        }
        return new AdminApi.Transport(out, s.version(), warnings == null || warnings.isEmpty() ? null : warnings);
    }

    AdminApi.Transport change(AdminApi.TransportChange req, String client) {
        Map<String, String> set = new LinkedHashMap<>();
        int imported = 0;
        if (req.importText() != null) {
            String source = req.importSource() == null || req.importSource().isBlank() ? "import" : req.importSource();
            for (TransportTable.Entry e : TransportTable.parse(req.importText(), source).entries()) {
                set.put(e.key().toLowerCase(Locale.ROOT), e.result());
                imported++;
            }
            if (imported == 0) {
                throw new IllegalArgumentException(source + " holds no transport entries");
            }
        }
        List<String> explicit = new ArrayList<>();
        if (req.set() != null) {
            req.set().forEach((k, v) -> {
                String key = k == null ? "" : k.trim().toLowerCase(Locale.ROOT);
                // checked as one inline entry: bad keys, transports and next hops are refused here
                TransportTable.Entry e = TransportTable.of(Map.of(key, v == null ? "" : v)).entries().get(0);
                set.put(key, e.result());
                explicit.add(key);
            });
        }
        List<String> remove = new ArrayList<>();
        if (req.remove() != null) {
            req.remove().forEach(p -> remove.add(p == null ? "" : p.trim().toLowerCase(Locale.ROOT)));
        }
        if (set.isEmpty() && remove.isEmpty()) {
            throw new IllegalArgumentException("nothing to do: give \"set\", \"remove\" or \"importText\"");
        }
        List<String> configuredKeys = overlay.configured().entries().stream()
                .map(e -> e.key().toLowerCase(Locale.ROOT)).toList();
        List<String> warnings = new ArrayList<>();
        AdminState before = store.state();
        AdminState after = store.change(old -> {
            Map<String, String> t = new LinkedHashMap<>(old.transport());
            List<String> removed = new ArrayList<>(old.transportRemoved());
            for (String p : remove) {
                t.remove(p);
                if (configuredKeys.contains(p) && !removed.contains(p)) {
                    removed.add(p);
                }
            }
            set.forEach((k, v) -> {
                t.put(k, v);
                removed.remove(k);
            });
            AdminState s = old.withTransport(t, removed);
            if (s.sameContent(old)) {
                return old;
            }
            overlay.check(s);
            return s.next(store.now());
        });
        for (String p : remove) {
            boolean was = before.transport().containsKey(p)
                    || (configuredKeys.contains(p) && !before.transportRemoved().contains(p));
            if (!was) {
                warnings.add(p + " was not in the transport table");
            } else {
                AUDIT.info("transport {} removed by {}, version {}", p, client, after.version());
            }
        }
        if (imported > 0) {
            AUDIT.info("transport import of {} entries from {} by {}, version {}", imported,
                    req.importSource() == null ? "import" : req.importSource(), client, after.version());
        }
        set.forEach((k, v) -> {
            String transport = v.substring(0, v.indexOf(':'));
            if (!overlay.knownTransport(transport)) {
                warnings.add(k + ": transport '" + transport + "' is not built in nor in smtp.transports;"
                        + " its mail waits in the queue (write [TRANSPORT:]NEXTHOP, e.g. smtp:" + v + ")");
            }
            if (v.equals(before.transport().get(k))) {
                warnings.add(k + " was already " + v);
            } else if (explicit.contains(k)) {
                AUDIT.info("transport {} set to {} by {}, version {}", k, v, client, after.version());
            }
        });
        return listing(after, warnings);
    }

    AdminApi.RouteTest test(String address, String sender) {
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException("give the recipient: ?address=user@example.com");
        }
        String a = address.trim().replaceAll("^<|>$", "");
        String s = sender == null ? "" : sender.trim().replaceAll("^<|>$", "");
        Route r = overlay.route(a, s);
        String text = "address: " + a + "\n" + r.describe();
        // Only an SMTP route has a next hop and limits; the other kinds show them as absent (null).
        Agent.Smtp smtp = r.agent() instanceof Agent.Smtp hop ? hop : null;
        return new AdminApi.RouteTest(a, s, r.transport(), r.agent().kind().name().toLowerCase(Locale.ROOT),
                smtp == null ? null : smtp.nextHop().text(),
                r.credentials() == null ? null : r.credentials().username(),
                smtp == null ? null : r.limits().concurrency(), smtp == null ? null : r.limits().rates(),
                r.matchedBy(), text);
    }
}
