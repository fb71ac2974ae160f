package io.relay.routing;

import java.util.List;

/**
 * The settings of one SMTP transport (Postfix: a master.cf smtp service with -o
 * overrides). For a named transport, a null field means "inherit the default smtp
 * setting"; an explicit empty fallback list means "no fallback relay".
 *
 * @param nexthop         next hop used when the transport table gives none, or null
 * @param tlsLevel        STARTTLS policy, or null
 * @param tlsCaFile       CA bundle path, or null
 * @param credentials     SASL table (parsed by the caller from its file), or null
 * @param concurrency     connections per next hop, or null
 * @param rates           rate limits as text ("14/s"), or null
 * @param fallbackRelays  fallback relays as next-hop text, or null
 * @param connectionReuse keep connections open between messages, or null
 */
public record TransportSettings(String nexthop, TlsLevel tlsLevel, String tlsCaFile, SaslPasswordTable credentials,
                                Integer concurrency, List<String> rates, List<String> fallbackRelays,
                                Boolean connectionReuse) {
    /** Everything inherited. */
    public static final TransportSettings INHERIT = new TransportSettings(null, null, null, null, null, null, null, null);

    public TransportSettings {
        if (nexthop != null && !nexthop.isBlank()) {
            NextHop.parse(nexthop);
        }
        if (concurrency != null && concurrency < 1) {
            throw new IllegalArgumentException("concurrency " + concurrency + " must be at least 1");
        }
        if (rates != null) {
            rates = List.copyOf(rates);
            rates.forEach(RateLimit::parse);
        }
        if (fallbackRelays != null) {
            fallbackRelays = List.copyOf(fallbackRelays);
            fallbackRelays.forEach(NextHop::parse);
        }
    }

    /** The defaults of the built-in smtp transport when nothing is configured. */
    public static TransportSettings smtpDefaults() {
        return new TransportSettings(null, TlsLevel.MAY, null, SaslPasswordTable.EMPTY, 20, List.of(), List.of(), true);
    }

    /** This transport's settings with every null field taken from {@code base}. */
    public TransportSettings inheritFrom(TransportSettings base) {
        return new TransportSettings(
                nexthop != null ? nexthop : base.nexthop,
                tlsLevel != null ? tlsLevel : base.tlsLevel,
                tlsCaFile != null ? tlsCaFile : base.tlsCaFile,
                credentials != null ? credentials : base.credentials,
                concurrency != null ? concurrency : base.concurrency,
                rates != null ? rates : base.rates,
                fallbackRelays != null ? fallbackRelays : base.fallbackRelays,
                connectionReuse != null ? connectionReuse : base.connectionReuse);
    }
}
