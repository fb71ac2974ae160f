package io.relay.cli;

import io.relay.admin.api.AdminApi;
import io.relay.routing.Credentials;
import io.relay.routing.ImportResult;
import io.relay.routing.NextHop;
import io.relay.routing.NotCarried;
import io.relay.routing.SaslPasswordTable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * What a Postfix setup (read by the routing module's {@code PostfixImport}) means for the
 * admin classes: mynetworks, the transport table, limits and credentials per next hop.
 * Pure: the caller reads the files.
 *
 * <p>Mapping: {@code mynetworks} as is (left alone when main.cf does not set it); the
 * transport table as is (an absent transport_maps is an empty table); every entry of the
 * sasl_passwd tables (main.cf's and master.cf services') as credentials of its next hop;
 * the smtp destination rate and concurrency as limits of the relayhost, and a master.cf
 * transport's rate and concurrency as limits of each next hop the transport table sends
 * through it. Everything else the import produced is node configuration (relay.yaml), which
 * the admin API does not change: it is listed as not carried, with the importer's own list
 * (the listeners too: where a node listens is its own YAML, read at start).
 */
final class PostfixPlan {
    private PostfixPlan() {
    }

    /**
     * The admin classes of one setup.
     *
     * @param networks    mynetworks, or null to leave it alone
     * @param transport   pattern → {@code transport:nexthop}
     * @param limits      next hop → limit
     * @param credentials next hop → login
     * @param notCarried  what the admin import does not carry, with why
     */
    record Plan(List<String> networks, Map<String, String> transport, Map<String, AdminApi.Limit> limits,
                Map<String, AdminApi.Login> credentials, List<NotCarried> notCarried) {
    }

    private static final String YAML = "it is node configuration, not an admin class: set it in each node's relay.yaml"
            + " (relay-node import-postfix DIR --out FILE writes it)";

    @SuppressWarnings("unchecked")
    static Plan from(ImportResult result, Function<String, Optional<String>> tables) {
        Map<String, Object> smtpd = section(result.config(), "smtpd");
        Map<String, Object> smtp = section(result.config(), "smtp");
        List<NotCarried> notCarried = new ArrayList<>(result.notCarried());

        List<String> networks = smtpd.containsKey("mynetworks") ? List.copyOf((List<String>) smtpd.get("mynetworks")) : null;
        Map<String, String> transport = new LinkedHashMap<>((Map<String, String>) smtp.getOrDefault("transport-maps", Map.of()));

        Map<String, AdminApi.Login> credentials = new LinkedHashMap<>();
        Map<String, String> credentialSource = new LinkedHashMap<>();
        List<String> saslFiles = new ArrayList<>();
        if (smtp.get("sasl-password-file") instanceof String f) {
            saslFiles.add(f);
        }
        Map<String, Map<String, Object>> transports =
                (Map<String, Map<String, Object>>) smtp.getOrDefault("transports", Map.of());
        transports.values().forEach(t -> {
            if (t.get("sasl-password-file") instanceof String f && !saslFiles.contains(f)) {
                saslFiles.add(f);
            }
        });
        for (String file : saslFiles) {
            String text = tables.apply(file).orElseThrow(() -> new IllegalArgumentException(
                    "table " + file + " could not be read"));
            SaslPasswordTable table = SaslPasswordTable.parse(text, file);
            for (String key : table.keys()) {
                Credentials c = table.entry(key).orElseThrow();
                String hop;
                try {
                    hop = NextHop.parse(key).text();
                } catch (IllegalArgumentException e) {
                    notCarried.add(new NotCarried(file + ": " + key, "", "not a next hop (per-sender credentials are"
                            + " not supported)"));
                    continue;
                }
                AdminApi.Login login = new AdminApi.Login(c.username(), c.password());
                AdminApi.Login before = credentials.putIfAbsent(hop, login);
                if (before == null) {
                    credentialSource.put(hop, file);
                } else if (!before.equals(login)) {
                    notCarried.add(new NotCarried(file + ": " + key, "", "another login for this next hop is carried,"
                            + " from " + credentialSource.get(hop) + "; credentials are per next hop for every transport"));
                }
            }
        }

        Map<String, AdminApi.Limit> limits = new LinkedHashMap<>();
        List<String> rates = (List<String>) smtp.get("destination-rate");
        Integer concurrency = (Integer) smtp.get("destination-concurrency-limit");
        if (rates != null || concurrency != null) {
            String relayhost = (String) smtp.get("relayhost");
            String value = (rates == null ? "" : "rate " + String.join(", ", rates))
                    + (rates != null && concurrency != null ? "; " : "")
                    + (concurrency == null ? "" : "concurrency " + concurrency);
            if (relayhost != null && !relayhost.isBlank()) {
                limits.put(NextHop.parse(relayhost).text(), new AdminApi.Limit(rates, concurrency));
            } else {
                notCarried.add(new NotCarried("smtp destination limits", value, "they apply to every destination"
                        + " and admin limits are per next hop; set smtp.destination-rate and"
                        + " smtp.destination-concurrency-limit in relay.yaml"));
            }
        }
        transports.forEach((name, t) -> {
            List<String> r = (List<String>) t.get("rate");
            Integer c = (Integer) t.get("concurrency");
            if (r == null && c == null) {
                return;
            }
            AdminApi.Limit limit = new AdminApi.Limit(r, c);
            for (String hop : hopsThrough(name, transport, (String) t.get("nexthop"))) {
                AdminApi.Limit before = limits.putIfAbsent(hop, limit);
                if (before != null && !before.equals(limit)) {
                    notCarried.add(new NotCarried("master.cf " + name + ": rate/concurrency", hop,
                            "another transport's limits for this next hop are carried; limits are per next hop"));
                }
            }
        });

        smtpd.forEach((key, value) -> {
            if (key.equals("listen")) {
                notCarried.add(new NotCarried("relay.yaml smtpd.listen", text(value), "listeners are node-local and"
                        + " not applied to a running cluster: set smtpd.listen in each node's relay.yaml"
                        + " (relay-node import-postfix DIR --out FILE writes it) and restart the node"));
            } else if (!key.equals("mynetworks")) {
                notCarried.add(new NotCarried("relay.yaml smtpd." + key, text(value), YAML));
            }
        });
        for (String key : List.of("relayhost", "tls-security-level", "tls-ca-file", "fallback-relay",
                "sender-dependent-relayhost-maps")) {
            if (smtp.containsKey(key)) {
                notCarried.add(new NotCarried("relay.yaml smtp." + key, text(smtp.get(key)), YAML));
            }
        }
        transports.forEach((name, t) -> {
            Map<String, Object> rest = new LinkedHashMap<>(t);
            rest.keySet().removeAll(List.of("rate", "concurrency", "sasl-password-file"));
            notCarried.add(new NotCarried("relay.yaml smtp.transports." + name, text(rest),
                    "the admin API does not define transports; entries that name '" + name
                            + "' wait in the queue until each node's relay.yaml has it (relay-node import-postfix writes it)"));
        });
        section(result.config(), "queue").forEach((k, v) -> notCarried.add(new NotCarried("relay.yaml queue." + k,
                text(v), YAML)));
        return new Plan(networks, transport, limits, credentials, notCarried);
    }

    /** The next hops the transport table sends through transport {@code name} (its own next hop when an entry gives none). */
    private static List<String> hopsThrough(String name, Map<String, String> transport, String own) {
        List<String> out = new ArrayList<>();
        for (String result : transport.values()) {
            int colon = result.indexOf(':');
            String t = colon < 0 ? result : result.substring(0, colon);
            if (!t.trim().toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) {
                continue;
            }
            String hop = colon < 0 ? "" : result.substring(colon + 1).trim();
            if (hop.isEmpty()) {
                hop = own == null ? "" : own;
            }
            if (!hop.isEmpty()) {
                String text = NextHop.parse(hop).text();
                if (!out.contains(text)) {
                    out.add(text);
                }
            }
        }
        if (out.isEmpty() && own != null && !own.isBlank()) {
            out.add(NextHop.parse(own).text());
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> section(Map<String, Object> tree, String name) {
        return tree.get(name) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private static String text(Object v) {
        if (v instanceof List<?> l) {
            return l.isEmpty() ? "[]" : String.join(", ", l.stream().map(String::valueOf).toList());
        }
        if (v instanceof Map<?, ?> m) {
            List<String> parts = new ArrayList<>();
            m.forEach((k, x) -> parts.add(k + ": " + text(x)));
            return String.join("; ", parts);
        }
        return String.valueOf(v);
    }
}
