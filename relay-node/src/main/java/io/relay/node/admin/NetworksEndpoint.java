package io.relay.node.admin;

import io.relay.admin.api.AdminApi;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.AdminStateStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/networks}: mynetworks for the whole cluster. {@code GET} answers the
 * networks in force on this node; {@code POST} with {@code {"add":[...],"remove":[...],
 * "force":false}} applies one change set: every entry is checked first ({@link CidrCheck}),
 * and one bad entry refuses the whole request, so nothing is half applied. Each entry that
 * changed something writes one line to logger {@code admin.audit}.
 */
final class NetworksEndpoint {
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    private final AdminStateStore store;

    NetworksEndpoint(AdminStateStore store) {
        this.store = store;
    }

    AdminApi.Networks list() {
        AdminState s = store.state();
        return new AdminApi.Networks(store.effective(), store.configured(), s.added(), s.removed(), s.version(), null);
    }

    /** Throws IllegalArgumentException (a 400) with a one-line reason; nothing is changed then. */
    AdminApi.Networks change(AdminApi.NetworksChange req, String client) {
        List<String> add = req.add() == null ? List.of() : req.add();
        List<String> remove = req.remove() == null ? List.of() : req.remove();
        if (add.isEmpty() && remove.isEmpty()) {
            throw new IllegalArgumentException("nothing to do: give \"add\" or \"remove\" with a list of CIDRs");
        }
        List<String> warnings = new ArrayList<>();
        List<String> toAdd = new ArrayList<>();
        List<String> risky = new ArrayList<>();
        for (String raw : add) {
            CidrCheck.Normalized n = CidrCheck.normalize(raw);
            n.warning().ifPresent(warnings::add);
            Optional<String> risk = CidrCheck.openRelayRisk(n.network());
            if (risk.isPresent()) {
                if (!req.force()) {
                    throw new IllegalArgumentException(CidrCheck.refusal(risk.get()));
                }
                risky.add(n.network());
                warnings.add("forced: " + risk.get());
            }
            toAdd.add(n.network());
        }
        List<String> toRemove = new ArrayList<>();
        for (String raw : remove) {
            CidrCheck.Normalized n = CidrCheck.normalize(raw);
            n.warning().ifPresent(warnings::add);
            toRemove.add(n.network());
        }
        List<String> before = store.effective();
        AdminState after = store.change(old -> {
            AdminState s = old;
            long now = store.now();
            for (String n : toAdd) {
                s = s.add(n, store.configured(), now);
            }
            for (String n : toRemove) {
                s = s.remove(n, store.configured(), now);
            }
            return s.version() > old.version() ? old.withNetworks(s.added(), s.removed()).next(now) : old;
        });
        List<String> now = after.effective(store.configured());
        for (String n : toAdd) {
            if (before.contains(n)) {
                warnings.add(n + " was already in mynetworks");
            } else if (now.contains(n)) {
                audit("added", n, client, after, risky.contains(n));
            }
        }
        for (String n : toRemove) {
            if (!before.contains(n)) {
                warnings.add(n + " was not in mynetworks");
            } else if (!now.contains(n)) {
                audit("removed", n, client, after, false);
            }
        }
        return new AdminApi.Networks(now, store.configured(), after.added(), after.removed(), after.version(),
                warnings.isEmpty() ? null : warnings);
    }

    private static void audit(String what, String network, String client, AdminState s, boolean forced) {
        if (forced) {
            AUDIT.warn("mynetworks {} {} by {} (forced past the open-relay check), version {}", what, network, client,
                    s.version());
        } else {
            AUDIT.info("mynetworks {} {} by {}, version {}", what, network, client, s.version());
        }
    }
}
