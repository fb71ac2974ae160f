package io.relay.node.admin;

import io.relay.admin.api.AdminApi;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.AdminStateStore;
import io.relay.node.cluster.RoutingOverlay;
import io.relay.routing.RateLimit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/limits}: rate and concurrency limits per next hop for the whole cluster,
 * over the transports' own settings. {@code GET} lists the admin limits; {@code POST} with
 * {@code {"set":{"NEXTHOP":{"rates":["14/s"],"concurrency":2}},"remove":[...]}} applies one
 * change set, all checked first ({@link RateLimit#parse}). A set that leaves out rates or
 * concurrency keeps the admin value set before, else the transport's. Audited to
 * {@code admin.audit}.
 */
final class LimitsEndpoint {
    static final String PATH = "/admin/v1/limits";
    static final int MAX_CONCURRENCY = 10_000;
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    private final AdminStateStore store;

    LimitsEndpoint(AdminStateStore store) {
        this.store = store;
    }

    AdminApi.Limits list() {
        return listing(store.state(), null);
    }

    private static AdminApi.Limits listing(AdminState s, List<String> warnings) {
        List<AdminApi.LimitEntry> out = new ArrayList<>();
        s.limits().forEach((k, l) -> out.add(new AdminApi.LimitEntry(k, l.rates() == null ? List.of() : l.rates(), l.concurrency())));
        return new AdminApi.Limits(out, s.version(), warnings == null || warnings.isEmpty() ? null : warnings);
    }

    AdminApi.Limits change(AdminApi.LimitsChange req, String client) {
        Map<String, AdminState.Limit> set = new LinkedHashMap<>();
        if (req.set() != null) {
            req.set().forEach((k, l) -> {
                String key = RoutingOverlay.nextHopKey(k);
                List<String> rates = null;
                if (l != null && l.rates() != null && !l.rates().isEmpty()) {
                    rates = l.rates().stream().map(r -> RateLimit.parse(r).text()).distinct().toList();
                }
                Integer c = l == null ? null : l.concurrency();
                if (c != null && (c < 1 || c > MAX_CONCURRENCY)) {
                    throw new IllegalArgumentException("concurrency " + c + " for " + key + " must be 1-" + MAX_CONCURRENCY);
                }
                if (rates == null && c == null) {
                    throw new IllegalArgumentException("nothing to set for " + key + ": give rates, concurrency or both");
                }
                set.put(key, new AdminState.Limit(rates, c));
            });
        }
        List<String> remove = new ArrayList<>();
        if (req.remove() != null) {
            req.remove().forEach(k -> remove.add(RoutingOverlay.nextHopKey(k)));
        }
        if (set.isEmpty() && remove.isEmpty()) {
            throw new IllegalArgumentException("nothing to do: give \"set\" or \"remove\"");
        }
        AdminState before = store.state();
        AdminState after = store.change(old -> {
            Map<String, AdminState.Limit> m = new LinkedHashMap<>(old.limits());
            remove.forEach(m::remove);
            set.forEach((k, l) -> {
                AdminState.Limit prev = m.get(k);
                m.put(k, new AdminState.Limit(l.rates() != null ? l.rates() : prev == null ? null : prev.rates(),
                        l.concurrency() != null ? l.concurrency() : prev == null ? null : prev.concurrency()));
            });
            AdminState s = old.withLimits(m);
            return s.sameContent(old) ? old : s.next(store.now());
        });
        List<String> warnings = new ArrayList<>();
        for (String k : remove) {
            if (!before.limits().containsKey(k)) {
                warnings.add("no admin limits for " + k);
            } else {
                AUDIT.info("limits for {} removed by {}, version {}", k, client, after.version());
            }
        }
        set.keySet().forEach(k -> {
            AdminState.Limit l = after.limits().get(k);
            if (l != null && !l.equals(before.limits().get(k))) {
                AUDIT.info("limits for {} set (rates {}, concurrency {}) by {}, version {}", k,
                        l.rates() == null ? "of the transport" : String.join(", ", l.rates()),
                        l.concurrency() == null ? "of the transport" : l.concurrency(), client, after.version());
            }
        });
        return listing(after, warnings);
    }
}
