package io.relay.routing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Test support: loads a Postfix fixture from the classpath (table paths are mapped to the
 * fixture's file of the same base name) and builds a RoutingConfig from an import's
 * config tree the way relay-node binds the same YAML keys.
 */
final class FixtureSetups {
    private FixtureSetups() { }

    static Optional<String> resource(String path) {
        try (InputStream in = FixtureSetups.class.getResourceAsStream(path)) {
            return in == null ? Optional.empty() : Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static PostfixFiles files(String fixture) {
        String dir = "/fixtures/" + fixture + "/";
        return new PostfixFiles(resource(dir + "main.cf").orElseThrow(), resource(dir + "master.cf").orElse(""),
                path -> resource(dir + path.substring(path.lastIndexOf('/') + 1)));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> section(Map<String, Object> tree, String name) {
        return (Map<String, Object>) tree.getOrDefault(name, Map.of());
    }

    @SuppressWarnings("unchecked")
    static RoutingConfig routingConfig(Map<String, Object> tree, PostfixFiles files) {
        Map<String, Object> smtp = section(tree, "smtp");
        Map<String, Object> smtpd = section(tree, "smtpd");
        TransportSettings defaults = settings(smtp, files, "destination-concurrency-limit", "destination-rate");
        Map<String, TransportSettings> transports = new LinkedHashMap<>();
        ((Map<String, Map<String, Object>>) smtp.getOrDefault("transports", Map.of()))
                .forEach((name, t) -> transports.put(name, settings(t, files, "concurrency", "rate")));
        return new RoutingConfig((String) smtp.get("relayhost"), (String) smtp.get("default-transport"), defaults,
                transports, TransportTable.of((Map<String, String>) smtp.get("transport-maps")),
                SenderRelayhostTable.of((Map<String, String>) smtp.get("sender-dependent-relayhost-maps")),
                Set.copyOf((List<String>) smtpd.getOrDefault("relay-domains", List.of())));
    }

    @SuppressWarnings("unchecked")
    private static TransportSettings settings(Map<String, Object> m, PostfixFiles files, String concurrencyKey, String rateKey) {
        String sasl = (String) m.get("sasl-password-file");
        String level = (String) m.get("tls-security-level");
        List<String> fallback = (List<String>) m.get("fallback-relay");
        return new TransportSettings((String) m.get("nexthop"), level == null ? null : TlsLevel.parse(level),
                (String) m.get("tls-ca-file"),
                sasl == null ? null : SaslPasswordTable.parse(files.tables().apply(sasl).orElseThrow(), sasl),
                (Integer) m.get(concurrencyKey), (List<String>) m.get(rateKey),
                fallback == null ? null : new ArrayList<>(fallback), null);
    }
}
