package io.relay.routing;

import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Everything the {@link Router} decides from, already parsed. Built by relay-node from
 * {@code smtp.*} and {@code smtpd.relay-domains}.
 *
 * @param relayhost        smtp.relayhost ("" = direct MX delivery)
 * @param defaultTransport smtp.default-transport: "smtp", "file:DIR", "discard:TEXT", "error:TEXT" or a named transport
 * @param smtp             the default smtp settings (smtp.tls-security-level, smtp.tls-ca-file,
 *                         smtp.sasl-password-file, smtp.fallback-relay, smtp.destination-concurrency-limit,
 *                         smtp.connection-reuse); null fields take {@link TransportSettings#smtpDefaults()}
 * @param transports       smtp.transports: named SMTP transports with overrides
 * @param transportTable   smtp.transport-maps, or {@link TransportTable#EMPTY}
 * @param senderRelayhosts smtp.sender-dependent-relayhost-maps, or {@link SenderRelayhostTable#EMPTY}
 * @param relayDomains     smtpd.relay-domains: delivered by the relay transport (an alias of smtp unless configured)
 */
public record RoutingConfig(String relayhost, String defaultTransport, TransportSettings smtp,
                            Map<String, TransportSettings> transports, TransportTable transportTable,
                            SenderRelayhostTable senderRelayhosts, Set<String> relayDomains) {
    public RoutingConfig {
        relayhost = relayhost == null ? "" : relayhost.trim();
        defaultTransport = defaultTransport == null || defaultTransport.isBlank() ? "smtp" : defaultTransport.trim();
        smtp = (smtp == null ? TransportSettings.INHERIT : smtp).inheritFrom(TransportSettings.smtpDefaults());
        transports = Map.copyOf(Objects.requireNonNullElse(transports, Map.of()));
        transportTable = Objects.requireNonNullElse(transportTable, TransportTable.EMPTY);
        senderRelayhosts = Objects.requireNonNullElse(senderRelayhosts, SenderRelayhostTable.EMPTY);
        relayDomains = Objects.requireNonNullElse(relayDomains, Set.<String>of()).stream()
                .map(d -> d.trim().toLowerCase(java.util.Locale.ROOT)).collect(java.util.stream.Collectors.toUnmodifiableSet());
        if (!relayhost.isEmpty()) {
            NextHop.parse(relayhost);
        }
    }

    /** A config with only a relayhost and default transport; everything else default. */
    public static RoutingConfig simple(String relayhost, String defaultTransport) {
        return new RoutingConfig(relayhost, defaultTransport, null, Map.of(), null, null, Set.of());
    }
}
