package io.relay.node.config;

import io.relay.routing.NextHop;
import io.relay.routing.RateLimit;
import io.relay.routing.Router;
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
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Turns the {@code smtp.*} section into the routing module's {@link RoutingConfig}: reads
 * the table files it names (the routing module does no I/O) and reports every problem
 * naming its key ({@code smtp.relayhost}, {@code smtp.transports.ses.rate}, ...), all of them
 * rather than the first, and the transport names that lead nowhere.
 *
 * <p>A table file that cannot be read or parsed counts as empty in the result, with its
 * problem listed, so {@code route} can still answer and say so; a bad setting leaves no
 * config to answer from.
 */
public final class RoutingConfigs {
    private RoutingConfigs() {
    }

    /**
     * The routing config and the problems found on the way.
     *
     * @param config              null when a setting (not a file) is bad
     * @param problems            every problem, {@code key: reason}
     * @param undefinedTransports transport names that {@code smtp.default-transport} or a transport-maps
     *                            entry use but nothing defines (a {@code sess:} typo). Kept apart: the
     *                            router defers such mail ("mail transport unavailable"), as Postfix does,
     *                            for tables changed at run time; start and {@code check} refuse them
     */
    public record Built(RoutingConfig config, Problems problems, Problems undefinedTransports) {
    }

    /**
     * The routing config, or a {@link ConfigException} naming the file, the key and the first problem.
     *
     * @param warn receives a warning for each credentials file that group or others can read
     */
    public static RoutingConfig from(RelayConfig c, Consumer<String> warn) {
        Built built = build(c, warn);
        built.problems().throwIfAny(c.source());
        return built.config();
    }

    /** Builds what it can and collects every problem (for {@code check} and {@code route}). */
    public static Built build(RelayConfig c, Consumer<String> warn) {
        Problems p = new Problems();
        RelayConfig.Smtp s = c.smtp;
        boolean settingsOk = hop(p, "smtp.relayhost", s.relayhost)
                & rates(p, "smtp.destination-rate", s.destinationRate)
                & hops(p, "smtp.fallback-relay", s.fallbackRelay);
        TlsLevel level = tlsLevel(p, "smtp.tls-security-level", s.tlsSecurityLevel);
        settingsOk &= level != null;
        TransportSettings smtp = settingsOk ? new TransportSettings(null, level,
                s.tlsCaFile == null ? null : s.tlsCaFile.toString(),
                sasl(s.saslPasswordFile, "smtp.sasl-password-file", warn, p),
                s.destinationConcurrencyLimit, List.copyOf(s.destinationRate), List.copyOf(s.fallbackRelay),
                s.connectionReuse) : null;
        Map<String, TransportSettings> named = new LinkedHashMap<>();
        for (Map.Entry<String, RelayConfig.Transport> e : s.transports.entrySet()) {
            TransportSettings t = transport(p, "smtp.transports." + e.getKey(), e.getValue(), warn);
            if (t == null) {
                settingsOk = false;
            } else {
                named.put(e.getKey(), t);
            }
        }
        TransportTable table = table(s.transportMaps, "smtp.transport-maps", TransportTable::of, TransportTable::parse,
                TransportTable.EMPTY, p);
        SenderRelayhostTable senders = table(s.senderDependentRelayhostMaps, "smtp.sender-dependent-relayhost-maps",
                SenderRelayhostTable::of, SenderRelayhostTable::parse, SenderRelayhostTable.EMPTY, p);
        Problems undefined = undefinedTransports(s.defaultTransport, table, s.transports.keySet());
        if (!settingsOk) {
            return new Built(null, p, undefined);
        }
        return new Built(new RoutingConfig(s.relayhost, s.defaultTransport, smtp, named, table, senders,
                Set.copyOf(c.smtpd.relayDomains)), p, undefined);
    }

    private static TransportSettings transport(Problems p, String key, RelayConfig.Transport t, Consumer<String> warn) {
        TlsLevel level = t.tlsSecurityLevel == null ? null : tlsLevel(p, key + ".tls-security-level", t.tlsSecurityLevel);
        boolean ok = (t.nexthop == null || t.nexthop.isBlank() || hop(p, key + ".nexthop", t.nexthop))
                & (t.rate == null || rates(p, key + ".rate", t.rate))
                & (t.fallbackRelay == null || hops(p, key + ".fallback-relay", t.fallbackRelay))
                & p.check(key + ".concurrency", t.concurrency == null || t.concurrency >= 1, "must be at least 1")
                & (t.tlsSecurityLevel == null || level != null);
        SaslPasswordTable credentials = t.saslPasswordFile == null ? null
                : sasl(t.saslPasswordFile, key + ".sasl-password-file", warn, p);
        if (!ok) {
            return null;
        }
        return new TransportSettings(t.nexthop, level, t.tlsCaFile == null ? null : t.tlsCaFile.toString(),
                credentials, t.concurrency, t.rate, t.fallbackRelay, t.connectionReuse);
    }

    private static Problems undefinedTransports(String defaultTransport, TransportTable table, Set<String> named) {
        Problems p = new Problems();
        String d = defaultTransport == null || defaultTransport.isBlank() ? "smtp" : defaultTransport.trim();
        String name = (d.indexOf(':') < 0 ? d : d.substring(0, d.indexOf(':'))).trim();
        if (!Router.defines(name, named)) {
            p.add("smtp.default-transport", "'" + d + "' names transport '" + name + "', which is not defined ("
                    + known(named) + ")");
        } else if (name.equalsIgnoreCase("file") && d.substring(d.indexOf(':') + 1).isBlank()) {
            p.add("smtp.default-transport", "'" + d + "' needs a directory, e.g. file:var/mail");
        }
        for (TransportTable.Entry e : table.entries()) {
            if (!e.transport().isEmpty() && !Router.defines(e.transport(), named)) {
                p.add("smtp.transport-maps", "entry '" + e.key() + "' names transport '" + e.transport()
                        + "', which is not defined (" + known(named) + ")");
            }
        }
        return p;
    }

    private static String known(Set<String> named) {
        return "built in: " + String.join(", ", Router.BUILT_IN) + "; "
                + (named.isEmpty() ? "no smtp.transports defined"
                : "smtp.transports: " + String.join(", ", named.stream().sorted().toList()));
    }

    private static boolean hop(Problems p, String key, String text) {
        if (text == null || text.isBlank()) {
            return true;
        }
        try {
            NextHop.parse(text);
            return true;
        } catch (IllegalArgumentException e) {
            p.add(key, e.getMessage());
            return false;
        }
    }

    private static boolean hops(Problems p, String key, List<String> texts) {
        boolean ok = true;
        for (String t : texts) {
            ok &= t == null ? p.check(key, false, "empty next hop") : hop(p, key, t);
        }
        return ok;
    }

    private static boolean rates(Problems p, String key, List<String> texts) {
        boolean ok = true;
        for (String t : texts) {
            try {
                RateLimit.parse(t);
            } catch (IllegalArgumentException e) {
                p.add(key, e.getMessage());
                ok = false;
            }
        }
        return ok;
    }

    private static TlsLevel tlsLevel(Problems p, String key, String text) {
        try {
            return TlsLevel.parse(text);
        } catch (IllegalArgumentException e) {
            // the loader's wording, so check lists the key once
            p.add(key, "'" + text + "' is not one of none, may, encrypt, verify, secure");
            return null;
        }
    }

    /** The credentials table; when it cannot be read or parsed, empty, with the problem added. */
    static SaslPasswordTable sasl(Path file, String key, Consumer<String> warn, Problems p) {
        if (file == null) {
            return SaslPasswordTable.EMPTY;
        }
        var unreadable = ConfigLoader.unreadable(file);
        if (unreadable.isPresent()) {
            p.add(key, unreadable.get());
            return SaslPasswordTable.EMPTY;
        }
        CredentialFiles.exposure(file).ifPresent(warn);
        try {
            return SaslPasswordTable.parse(Files.readString(file), file.toString());
        } catch (IOException e) {
            p.add(key, "cannot read " + file + " (" + e.getClass().getSimpleName() + ")");
        } catch (IllegalArgumentException e) {
            p.add(key, e.getMessage());
        }
        return SaslPasswordTable.EMPTY;
    }

    private static <T> T table(Object value, String key, Function<Map<String, String>, T> inline,
                               BiFunction<String, String, T> file, T empty, Problems p) {
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
                Path f = Path.of(path.replaceFirst("^(hash|texthash):", ""));
                var unreadable = ConfigLoader.unreadable(f);
                if (unreadable.isPresent()) {
                    p.add(key, unreadable.get());
                    return empty;
                }
                return file.apply(Files.readString(f), f.toString());
            }
            p.add(key, "expected a map of entries or the path of a Postfix table file");
        } catch (IOException e) {
            p.add(key, "cannot read " + value + " (" + e.getClass().getSimpleName() + ")");
        } catch (IllegalArgumentException e) {
            p.add(key, e.getMessage());
        }
        return empty;
    }
}
