package io.relay.node.admin;

import io.relay.admin.api.AdminApi;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.AdminStateStore;
import io.relay.node.cluster.RoutingOverlay;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/credentials}: SASL credentials per next hop for the whole cluster, over
 * the transports' sasl_passwd tables. {@code GET} lists next hop and user, never the
 * password; {@code POST} with {@code {"set":{"nexthop":"[h]:587","user":"u","password":"p"},
 * "remove":[...]}} applies one change. The password appears in no answer, error, log or
 * audit line ({@code admin.audit} says "credentials for X set (user U)").
 */
final class CredentialsEndpoint {
    static final String PATH = "/admin/v1/credentials";
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    private final AdminStateStore store;

    CredentialsEndpoint(AdminStateStore store) {
        this.store = store;
    }

    AdminApi.Credentials list() {
        return listing(store.state(), null);
    }

    private static AdminApi.Credentials listing(AdminState s, List<String> warnings) {
        List<AdminApi.CredentialEntry> out = new ArrayList<>();
        s.credentials().forEach((k, v) -> out.add(new AdminApi.CredentialEntry(k, v.user())));
        return new AdminApi.Credentials(out, s.version(), warnings == null || warnings.isEmpty() ? null : warnings);
    }

    AdminApi.Credentials change(AdminApi.CredentialsChange req, String client) {
        AdminApi.CredentialSet set = req.set();
        String setKey = null;
        AdminState.Secret secret = null;
        if (set != null) {
            setKey = RoutingOverlay.nextHopKey(set.nexthop());
            String user = set.user() == null ? "" : set.user().trim();
            if (user.isEmpty() || user.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
                throw new IllegalArgumentException("user name for " + setKey + " is empty or has spaces or control characters");
            }
            String pw = set.password() == null ? "" : set.password();
            if (pw.isEmpty()) {
                throw new IllegalArgumentException("password for " + setKey + " is empty; give it on stdin or with --password-file");
            }
            if (pw.chars().anyMatch(c -> c == '\r' || c == '\n' || c == 0)) {
                throw new IllegalArgumentException("password for " + setKey + " holds a line break or NUL; SASL cannot send it");
            }
            secret = new AdminState.Secret(user, pw);
        }
        List<String> remove = new ArrayList<>();
        if (req.remove() != null) {
            req.remove().forEach(k -> remove.add(RoutingOverlay.nextHopKey(k)));
        }
        if (secret == null && remove.isEmpty()) {
            throw new IllegalArgumentException("nothing to do: give \"set\" or \"remove\"");
        }
        String key = setKey;
        AdminState.Secret value = secret;
        AdminState before = store.state();
        AdminState after = store.change(old -> {
            Map<String, AdminState.Secret> m = new LinkedHashMap<>(old.credentials());
            remove.forEach(m::remove);
            if (key != null) {
                m.put(key, value);
            }
            AdminState s = old.withCredentials(m);
            return s.sameContent(old) ? old : s.next(store.now());
        });
        List<String> warnings = new ArrayList<>();
        for (String k : remove) {
            if (!before.credentials().containsKey(k)) {
                warnings.add("no admin credentials for " + k);
            } else {
                AUDIT.info("credentials for {} removed by {}, version {}", k, client, after.version());
            }
        }
        if (key != null && !value.equals(before.credentials().get(key))) {
            AUDIT.info("credentials for {} set (user {}) by {}, version {}", key, value.user(), client, after.version());
        }
        return listing(after, warnings);
    }
}
