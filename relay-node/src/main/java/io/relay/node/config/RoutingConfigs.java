package io.relay.node.config;

import io.relay.routing.RoutingConfig;
import io.relay.routing.SaslPasswordTable;
import io.relay.routing.SenderRelayhostTable;
import io.relay.routing.TlsLevel;
import io.relay.routing.TransportSettings;
import io.relay.routing.TransportTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Turns the {@code smtp.*} section into the routing module's {@link RoutingConfig}: reads
 * the table files it names (the routing module does no I/O) and reports every problem
 * as a {@link ConfigException} naming the key.
 */
public final class RoutingConfigs {
    private RoutingConfigs() {
    }

    /**
     * @param warn receives a warning for each credentials file that group or others can read
     */
    public static RoutingConfig from(RelayConfig c, Consumer<String> warn) {
        RelayConfig.Smtp s = c.smtp;
        try {
            TransportSettings smtp = new TransportSettings(null, TlsLevel.parse(s.tlsSecurityLevel),
                    s.tlsCaFile == null ? null : s.tlsCaFile.toString(),
                    sasl(s.saslPasswordFile, "smtp.sasl-password-file", warn),
                    s.destinationConcurrencyLimit, List.copyOf(s.destinationRate), List.copyOf(s.fallbackRelay),
                    s.connectionReuse);
            Map<String, TransportSettings> named = new LinkedHashMap<>();
            for (Map.Entry<String, RelayConfig.Transport> e : s.transports.entrySet()) {
                String key = "smtp.transports." + e.getKey();
                RelayConfig.Transport t = e.getValue();
                try {
                    named.put(e.getKey(), new TransportSettings(t.nexthop,
                            t.tlsSecurityLevel == null ? null : TlsLevel.parse(t.tlsSecurityLevel),
                            t.tlsCaFile == null ? null : t.tlsCaFile.toString(),
                            t.saslPasswordFile == null ? null : sasl(t.saslPasswordFile, key + ".sasl-password-file", warn),
                            t.concurrency, t.rate, t.fallbackRelay, t.connectionReuse));
                } catch (IllegalArgumentException bad) {
                    throw new ConfigException(key + ": " + bad.getMessage());
                }
            }
            TransportTable table = table(s.transportMaps, "smtp.transport-maps", TransportTable::of, TransportTable::parse,
                    TransportTable.EMPTY);
            SenderRelayhostTable senders = table(s.senderDependentRelayhostMaps, "smtp.sender-dependent-relayhost-maps",
                    SenderRelayhostTable::of, SenderRelayhostTable::parse, SenderRelayhostTable.EMPTY);
            return new RoutingConfig(s.relayhost, s.defaultTransport, smtp, named, table, senders,
                    Set.copyOf(c.smtpd.relayDomains));
        } catch (ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigException("smtp: " + e.getMessage());
        }
    }

    static SaslPasswordTable sasl(Path file, String key, Consumer<String> warn) {
        if (file == null) {
            return SaslPasswordTable.EMPTY;
        }
        CredentialFiles.exposure(file).ifPresent(warn);
        try {
            return SaslPasswordTable.parse(Files.readString(file), file.toString());
        } catch (IOException e) {
            throw new ConfigException(key + ": cannot read " + file + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key + ": " + e.getMessage());
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> T table(Object value, String key, java.util.function.Function<Map<String, String>, T> inline,
                               java.util.function.BiFunction<String, String, T> file, T empty) {
        if (value == null) {
            return empty;
        }
        try {
            if (value instanceof Map<?, ?> map) {
                Map<String, String> m = new LinkedHashMap<>();
                map.forEach((k, v) -> m.put(String.valueOf(k), v == null ? "" : String.valueOf(v)));
                return inline.apply(m);
            }
            if (value instanceof String path) {
                String p = path.replaceFirst("^(hash|texthash):", "");
                return file.apply(Files.readString(Path.of(p)), p);
            }
        } catch (IOException e) {
            throw new ConfigException(key + ": cannot read " + value + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key + ": " + e.getMessage());
        }
        throw new ConfigException(key + ": expected a map of entries or the path of a Postfix table file");
    }
}
