package io.relay.node.admin;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.relay.admin.api.AdminApi;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.AdminStateStore;
import io.relay.node.cluster.RoutingOverlay;
import io.relay.routing.RateLimit;
import io.relay.routing.TransportTable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /admin/v1/import}: makes the cluster's mynetworks, transport table, limits and
 * credentials what one whole setup says (relayctl import-postfix sends what it read from a
 * Postfix directory), as one change with one new version. Each class given replaces what
 * is in force: networks and transport entries of the config file that the setup lacks are
 * taken out, admin limits and credentials it lacks are removed; a class left out (null)
 * is not touched.
 *
 * <p>The answer is the difference, per class and entry, between what was in force and what
 * is after (with {@code "dryRun":true} nothing is changed and the answer says what would
 * be). The node computes it, since only the node knows whether a stored password differs;
 * a password itself is never in an answer, error or log line. Every entry is checked first,
 * as the single-class endpoints check it, and one bad entry refuses the whole request.
 */
final class ImportEndpoint implements AdminRequestHandler.Endpoint {
    static final String PATH = "/admin/v1/import";
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    private final AdminStateStore store;
    private final RoutingOverlay overlay;

    ImportEndpoint(AdminStateStore store, RoutingOverlay overlay) {
        this.store = store;
        this.overlay = overlay;
    }

    @Override
    public String prefix() {
        return PATH;
    }

    @Override
    public Object handle(HttpMethod method, String path, QueryStringDecoder query, String body, String client) {
        if (!path.equals(PATH)) {
            throw new java.util.NoSuchElementException("no such endpoint: " + path);
        }
        if (!method.equals(HttpMethod.POST)) {
            throw new UnsupportedOperationException("use POST");
        }
        AdminApi.ImportRequest req;
        try {
            req = AdminRequestHandler.parse(body, AdminApi.ImportRequest.class);
        } catch (IllegalArgumentException e) {
            // never echo the body: it may hold passwords
            throw new IllegalArgumentException(e.getMessage().startsWith("unknown field") || e.getMessage().startsWith("empty")
                    ? e.getMessage() : "body is not the expected JSON object");
        }
        return run(req, client);
    }

    AdminApi.ImportAnswer run(AdminApi.ImportRequest req, String client) {
        List<String> warnings = new ArrayList<>();
        Desired want = desired(req, warnings);
        if (req.dryRun()) {
            AdminState now = store.state();
            AdminState next = target(now, want);
            return new AdminApi.ImportAnswer(true, now.version(), diff(now, next), warnings.isEmpty() ? null : warnings);
        }
        AtomicReference<AdminState> before = new AtomicReference<>();
        AdminState after = store.change(old -> {
            before.set(old);
            AdminState s = target(old, want);
            if (s.sameContent(old)) {
                return old;
            }
            overlay.check(s);
            return s.next(store.now());
        });
        List<AdminApi.ImportChange> changes = diff(before.get(), after);
        String source = req.source() == null || req.source().isBlank() ? "import" : req.source();
        for (AdminApi.ImportChange c : changes) {
            AUDIT.info("import from {}: {} {} {}{} by {}, version {}", source, c.kind(), c.key(), c.op(),
                    c.after() == null ? "" : " (" + c.after() + ")", client, after.version());
        }
        if (!changes.isEmpty()) {
            AUDIT.info("import of {} changes from {} by {}, version {}", changes.size(), source, client, after.version());
        }
        return new AdminApi.ImportAnswer(false, after.version(), changes, warnings.isEmpty() ? null : warnings);
    }

    /** The request checked and normalized; a null class is left as it is. */
    private record Desired(List<String> networks, Map<String, String> transport, Map<String, AdminState.Limit> limits,
                           Map<String, AdminState.Secret> credentials) {
    }

    private Desired desired(AdminApi.ImportRequest req, List<String> warnings) {
        List<String> nets = null;
        if (req.networks() != null) {
            Set<String> out = new LinkedHashSet<>();
            List<String> inForce = store.effective();
            for (String raw : req.networks()) {
                CidrCheck.Normalized n = CidrCheck.normalize(raw);
                n.warning().ifPresent(warnings::add);
                Optional<String> risk = CidrCheck.openRelayRisk(n.network());
                if (risk.isPresent() && !inForce.contains(n.network())) {
                    if (!req.force()) {
                        throw new IllegalArgumentException(CidrCheck.refusal(risk.get()));
                    }
                    warnings.add("forced: " + risk.get());
                }
                out.add(n.network());
            }
            nets = List.copyOf(out);
        }
        Map<String, String> transport = null;
        if (req.transport() != null) {
            transport = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : req.transport().entrySet()) {
                String key = e.getKey() == null ? "" : e.getKey().trim().toLowerCase(Locale.ROOT);
                String v = e.getValue() == null ? "" : e.getValue();
                transport.put(key, TransportTable.of(Map.of(key, v)).entries().get(0).result());
                String name = transport.get(key).substring(0, transport.get(key).indexOf(':'));
                if (!overlay.knownTransport(name)) {
                    warnings.add(key + ": transport '" + name + "' is not built in nor in smtp.transports;"
                            + " its mail waits in the queue until relay.yaml defines it");
                }
            }
        }
        Map<String, AdminState.Limit> limits = null;
        if (req.limits() != null) {
            limits = new LinkedHashMap<>();
            for (Map.Entry<String, AdminApi.Limit> e : req.limits().entrySet()) {
                String key = RoutingOverlay.nextHopKey(e.getKey());
                AdminApi.Limit l = e.getValue();
                List<String> rates = l == null || l.rates() == null || l.rates().isEmpty() ? null
                        : l.rates().stream().map(r -> RateLimit.parse(r).text()).distinct().toList();
                Integer c = l == null ? null : l.concurrency();
                if (c != null && (c < 1 || c > LimitsEndpoint.MAX_CONCURRENCY)) {
                    throw new IllegalArgumentException("concurrency " + c + " for " + key + " must be 1-"
                            + LimitsEndpoint.MAX_CONCURRENCY);
                }
                if (rates == null && c == null) {
                    throw new IllegalArgumentException("nothing to set for " + key + ": give rates, concurrency or both");
                }
                limits.put(key, new AdminState.Limit(rates, c));
            }
        }
        Map<String, AdminState.Secret> credentials = null;
        if (req.credentials() != null) {
            credentials = new LinkedHashMap<>();
            for (Map.Entry<String, AdminApi.Login> e : req.credentials().entrySet()) {
                String key = RoutingOverlay.nextHopKey(e.getKey());
                AdminApi.Login login = e.getValue();
                String user = login == null || login.user() == null ? "" : login.user().trim();
                if (user.isEmpty() || user.chars().anyMatch(ch -> Character.isWhitespace(ch) || Character.isISOControl(ch))) {
                    throw new IllegalArgumentException("user name for " + key + " is empty or has spaces or control characters");
                }
                String pw = login.password() == null ? "" : login.password();
                if (pw.isEmpty()) {
                    throw new IllegalArgumentException("password for " + key + " is empty");
                }
                if (pw.chars().anyMatch(ch -> ch == '\r' || ch == '\n' || ch == 0)) {
                    throw new IllegalArgumentException("password for " + key + " holds a line break or NUL; SASL cannot send it");
                }
                credentials.put(key, new AdminState.Secret(user, pw));
            }
        }
        return new Desired(nets, transport, limits, credentials);
    }

    /** {@code old} with each class of {@code want} in force (same version: the caller counts it). */
    private AdminState target(AdminState old, Desired want) {
        AdminState s = old;
        if (want.networks() != null) {
            List<String> configured = store.configured();
            List<String> added = want.networks().stream().filter(n -> !configured.contains(n)).toList();
            List<String> removed = configured.stream().filter(n -> !want.networks().contains(n)).toList();
            s = s.withNetworks(added, removed);
        }
        if (want.transport() != null) {
            Map<String, String> file = configuredTable();
            Map<String, String> admin = new LinkedHashMap<>();
            want.transport().forEach((k, v) -> {
                if (!v.equals(file.get(k))) {
                    admin.put(k, v);
                }
            });
            List<String> removed = file.keySet().stream().filter(k -> !want.transport().containsKey(k)).toList();
            s = s.withTransport(admin, removed);
        }
        if (want.limits() != null) {
            s = s.withLimits(want.limits());
        }
        if (want.credentials() != null) {
            s = s.withCredentials(want.credentials());
        }
        return s;
    }

    private Map<String, String> configuredTable() {
        Map<String, String> out = new LinkedHashMap<>();
        overlay.configured().entries().forEach(e -> out.put(e.key().toLowerCase(Locale.ROOT), e.result()));
        return out;
    }

    /** What differs in force between two states, per class, in a stable order. */
    List<AdminApi.ImportChange> diff(AdminState a, AdminState b) {
        List<AdminApi.ImportChange> out = new ArrayList<>();
        List<String> netsA = a.effective(store.configured());
        List<String> netsB = b.effective(store.configured());
        netsB.stream().filter(n -> !netsA.contains(n)).forEach(n -> out.add(new AdminApi.ImportChange("networks", "added", n, null, null)));
        netsA.stream().filter(n -> !netsB.contains(n)).forEach(n -> out.add(new AdminApi.ImportChange("networks", "removed", n, null, null)));
        Map<String, String> tA = table(a);
        Map<String, String> tB = table(b);
        compare("transport", tA, tB, v -> v, out);
        compare("limits", a.limits(), b.limits(), ImportEndpoint::limitText, out);
        for (String key : new TreeSet<>(union(a.credentials().keySet(), b.credentials().keySet()))) {
            AdminState.Secret x = a.credentials().get(key);
            AdminState.Secret y = b.credentials().get(key);
            if (x == null) {
                out.add(new AdminApi.ImportChange("credentials", "added", key, null, "user " + y.user() + ", password set"));
            } else if (y == null) {
                out.add(new AdminApi.ImportChange("credentials", "removed", key, "user " + x.user(), null));
            } else if (!x.equals(y)) {
                out.add(new AdminApi.ImportChange("credentials", "changed", key, "user " + x.user(), "user " + y.user()
                        + (Objects.equals(x.password(), y.password()) ? "" : ", password changed")));
            }
        }
        return out;
    }

    private Map<String, String> table(AdminState s) {
        Map<String, String> out = new LinkedHashMap<>();
        RoutingOverlay.merge(overlay.configured(), s.transport(), s.transportRemoved()).entries()
                .forEach(e -> out.put(e.key().toLowerCase(Locale.ROOT), e.result()));
        return out;
    }

    private static <V> void compare(String kind, Map<String, V> a, Map<String, V> b,
                                    java.util.function.Function<V, String> text, List<AdminApi.ImportChange> out) {
        for (String key : new TreeSet<>(union(a.keySet(), b.keySet()))) {
            V x = a.get(key);
            V y = b.get(key);
            if (x == null) {
                out.add(new AdminApi.ImportChange(kind, "added", key, null, text.apply(y)));
            } else if (y == null) {
                out.add(new AdminApi.ImportChange(kind, "removed", key, text.apply(x), null));
            } else if (!x.equals(y)) {
                out.add(new AdminApi.ImportChange(kind, "changed", key, text.apply(x), text.apply(y)));
            }
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new LinkedHashSet<>(a);
        u.addAll(b);
        return u;
    }

    static String limitText(AdminState.Limit l) {
        List<String> parts = new ArrayList<>();
        if (l.rates() != null && !l.rates().isEmpty()) {
            parts.add("rates " + String.join(", ", l.rates()));
        }
        if (l.concurrency() != null) {
            parts.add("concurrency " + l.concurrency());
        }
        return String.join("; ", parts);
    }
}
