package io.relay.node.cluster;

import io.relay.routing.Agent;
import io.relay.routing.Credentials;
import io.relay.routing.NextHop;
import io.relay.routing.Route;
import io.relay.routing.Router;
import io.relay.routing.RoutingConfig;
import io.relay.routing.TransportTable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's routing: the config file's {@link RoutingConfig} with the admin overlay of
 * {@link AdminState} laid over it. Admin transport entries win over the file's (and can
 * take a file entry out); admin limits and credentials of a next hop win over its
 * transport's settings.
 *
 * <p>Strategy: one immutable snapshot (a {@link Router} built from the merged transport
 * table, plus the limits and credentials maps) behind an {@link AtomicReference}, replaced
 * by {@link #apply} when the cluster's state changes; {@link #route} reads it with no
 * cluster call. A state that cannot be built (it was checked when set, so only a config
 * file changed under it) is logged and the previous snapshot stays.
 *
 * <p>Next-hop keys, for limits and credentials, are {@code [host]:port}-style next hops or
 * a bare host name (any port). Credentials look up the bare host first, then the next hop,
 * as sasl_passwd; limits look up the exact next hop first, then the bare host.
 */
public final class RoutingOverlay {
    private static final Logger LOG = LoggerFactory.getLogger(RoutingOverlay.class);

    private final RoutingConfig base;
    private final AtomicReference<Snapshot> current;

    private record Snapshot(Router router, TransportTable table, Map<String, AdminState.Limit> limits,
                            Map<String, AdminState.Secret> credentials) {
    }

    public RoutingOverlay(RoutingConfig base) {
        this.base = base;
        this.current = new AtomicReference<>(new Snapshot(new Router(base), base.transportTable(), Map.of(), Map.of()));
    }

    /** Takes {@code s}'s overlay; throws IllegalArgumentException (nothing changed) when it cannot be built. */
    public void check(AdminState s) {
        build(s);
    }

    /** Takes {@code s}'s overlay; a state that cannot be built keeps the previous one (logged). */
    public void apply(AdminState s) {
        try {
            current.set(build(s));
        } catch (IllegalArgumentException e) {
            LOG.warn("admin routing overlay version {} not applied, the previous one stays: {}", s.version(),
                    e.getMessage());
        }
    }

    private Snapshot build(AdminState s) {
        TransportTable table = merge(base.transportTable(), s.transport(), s.transportRemoved());
        RoutingConfig merged = new RoutingConfig(base.relayhost(), base.defaultTransport(), base.smtp(),
                base.transports(), table, base.senderRelayhosts(), base.relayDomains());
        return new Snapshot(new Router(merged), table, s.limits(), s.credentials());
    }

    /** The config file's entries without {@code removed}, then {@code admin}'s, which replace same-key ones. */
    public static TransportTable merge(TransportTable configured, Map<String, String> admin, List<String> removed) {
        Map<String, String> out = new LinkedHashMap<>();
        for (TransportTable.Entry e : configured.entries()) {
            String key = e.key().toLowerCase(Locale.ROOT);
            if (!removed.contains(key)) {
                out.put(key, e.result());
            }
        }
        admin.forEach((k, v) -> out.put(k.toLowerCase(Locale.ROOT), v));
        return TransportTable.of(out);
    }

    /** The route for one recipient with the overlay in force; see {@link Router#route}. */
    public Route route(String recipient, String sender) {
        Snapshot s = current.get();
        Route r = s.router().route(recipient, sender);
        if (!(r.agent() instanceof Agent.Smtp smtp) || (s.limits().isEmpty() && s.credentials().isEmpty())) {
            return r;
        }
        NextHop hop = smtp.nextHop();
        String matchedBy = r.matchedBy();
        Route.Limits limits = r.limits();
        String limitKey = s.limits().containsKey(hop.text()) ? hop.text()
                : s.limits().containsKey(hop.host()) ? hop.host() : null;
        if (limitKey != null) {
            AdminState.Limit l = s.limits().get(limitKey);
            limits = new Route.Limits(l.concurrency() != null ? l.concurrency() : limits.concurrency(),
                    l.rates() != null && !l.rates().isEmpty() ? l.rates() : limits.rates());
            matchedBy = matchedBy + "; admin limits: " + limitKey;
        }
        Credentials creds = r.credentials();
        for (String key : credentialKeys(hop)) {
            AdminState.Secret secret = s.credentials().get(key);
            if (secret != null) {
                creds = new Credentials(key, secret.user(), secret.password());
                matchedBy = matchedBy + "; admin credentials: " + key;
                break;
            }
        }
        return new Route(r.transport(), smtp, r.tlsLevel(), r.tlsCaFile(), creds,
                r.fallbackRelays(), limits, r.connectionReuse(), matchedBy);
    }

    private static List<String> credentialKeys(NextHop hop) {
        return hop.port() == NextHop.SMTP_PORT ? List.of(hop.host(), hop.text(), hop.text() + ":25")
                : List.of(hop.host(), hop.text());
    }

    /** Whether mail can leave through {@code transport} ("" = the default): built-in or in smtp.transports. */
    public boolean knownTransport(String transport) {
        String t = transport.toLowerCase(Locale.ROOT);
        return t.isEmpty() || List.of("smtp", "relay", "file", "discard", "error", "retry").contains(t)
                || base.transports().keySet().stream().anyMatch(n -> n.equalsIgnoreCase(t));
    }

    /** The config file's transport table. */
    public TransportTable configured() {
        return base.transportTable();
    }

    /** The transport table in force now. */
    public TransportTable effective() {
        return current.get().table();
    }

    /** A next hop as given by an operator, normalized as the overlay keys it ({@code [Host]:25} → {@code [host]}). */
    public static String nextHopKey(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("next hop is empty; give e.g. [smtp.example.com]:587");
        }
        return NextHop.parse(text.trim()).text();
    }
}
