package io.relay.node.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import inet.ipaddr.IPAddress;
import inet.ipaddr.IPAddressString;
import io.relay.routing.NetworkSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reads the YAML file into {@link RelayConfig} and validates it. Every failure is one
 * {@link ConfigException} whose message names the key and the reason, so the node can
 * print it and refuse to start.
 */
public final class ConfigLoader {
    private static final Set<String> TLS_LEVELS = Set.of("none", "may", "encrypt", "verify", "secure");
    /** YAML 1.1 reads an unquoted yes/no as a boolean: true and false stand for them. */
    private static final Set<String> BARE_NEWLINE = Set.of("normalize", "reject", "no", "yes", "true", "false");
    private static final Set<String> DISCOVERY = Set.of("tcp", "aws", "kubernetes");
    /** Where an unencrypted cluster port may listen: loopback, RFC 1918, CGNAT, link-local, ULA. */
    private static final NetworkSet PRIVATE_NETWORKS = NetworkSet.parse(List.of("127.0.0.0/8", "10.0.0.0/8",
            "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"));

    private ConfigLoader() {
    }

    /** Reads, binds and validates {@code file}; the first problem is a {@link ConfigException}. */
    public static RelayConfig load(Path file) {
        RelayConfig config = read(file);
        problems(config).throwIfAny(config.source());
        return config;
    }

    /** Binds and validates YAML text; {@code source} names it in messages. */
    public static RelayConfig parse(String yaml, String source) {
        RelayConfig config = bind(yaml, source);
        problems(config).throwIfAny(source);
        return config;
    }

    /**
     * The embedded developer defaults (no --config): loopback only, and mail captured as .eml
     * files in var/mail instead of delivered, so a newcomer sees mail flow with no upstream.
     * A configuration file gets Postfix's default_transport, {@code smtp}.
     */
    public static RelayConfig embeddedDefaults() {
        RelayConfig config = bind("", "embedded defaults");
        config.smtp.defaultTransport = RelayConfig.Smtp.EMBEDDED_DEFAULT_TRANSPORT;
        problems(config).throwIfAny(config.source());
        return config;
    }

    /**
     * Reads and binds {@code file} without validating it (for {@code check} and {@code route},
     * which report the problems themselves); an unreadable file or a value that does not bind
     * is a {@link ConfigException}.
     */
    public static RelayConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        return bind(text, file.toString());
    }

    private static RelayConfig bind(String yaml, String source) {
        RelayConfig config = null;
        if (!(yaml.isBlank() || yaml.lines().allMatch(l -> l.isBlank() || l.stripLeading().startsWith("#")))) {
            try {
                config = mapper().readValue(yaml, RelayConfig.class);
            } catch (JsonMappingException e) {
                if (e.getCause() instanceof InputCoercionException range) {
                    throw new ConfigException(source + ": " + outOfRange(keyOf(e), range));
                }
                if (e.getCause() instanceof com.fasterxml.jackson.core.exc.StreamReadException bad) {
                    throw notYaml(source, bad);
                }
                throw new ConfigException(source + ": " + describe(e));
            } catch (InputCoercionException e) {
                throw new ConfigException(source + ": " + outOfRange("", e));
            } catch (JsonProcessingException e) {
                throw notYaml(source, e);
            }
        }
        if (config == null) {
            config = new RelayConfig(); // an empty file means all defaults
        }
        config.source(source);
        if (config.queue.maxIndexMemory == RelayConfig.Queue.AUTO) {
            config.queue.maxIndexMemory = io.relay.queue.QueueSettings.defaultMaxIndexMemory(
                    Runtime.getRuntime().maxMemory());
        }
        return config;
    }

    /** A number too large for its key, named with the key and the range (not as a YAML syntax error). */
    private static String outOfRange(String key, InputCoercionException e) {
        Class<?> type = e.getTargetType();
        String range = type == Integer.TYPE || type == Integer.class ? "-2147483648 to 2147483647"
                : type == Long.TYPE || type == Long.class ? "-9223372036854775808 to 9223372036854775807"
                : "the range of a " + (type == null ? "number" : type.getSimpleName().toLowerCase());
        // Jackson's text is "Numeric value (N) out of range of long (...)": keep N, say the rest our way
        java.util.regex.Matcher n = java.util.regex.Pattern.compile("\\(([-+0-9.eE]{1,80})\\)")
                .matcher(String.valueOf(e.getOriginalMessage()));
        String value = n.find() ? " " + n.group(1) : "";
        return (key.isEmpty() ? "a number" : key) + ":" + value + " is out of range (" + range + ")";
    }

    private static ConfigException notYaml(String source, JsonProcessingException e) {
        return new ConfigException(source + ": not valid YAML: " + e.getOriginalMessage().replaceAll("\\s+", " ")
                + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"));
    }

    static ObjectMapper mapper() {
        SimpleModule m = new SimpleModule("relay-config");
        m.addDeserializer(Duration.class, new FromText<>(Durations::parse));
        m.addDeserializer(HostPort.class, new FromText<>(HostPort::parse));
        return new ObjectMapper(new YAMLFactory())
                .registerModule(m)
                .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY);
    }

    private static String keyOf(JsonMappingException e) {
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
    }

    private static String describe(JsonMappingException e) {
        String key = keyOf(e);
        if (e instanceof UnrecognizedPropertyException u) {
            return "unknown key '" + key + "'" + known(u);
        }
        Throwable cause = e.getCause();
        if (cause instanceof IllegalArgumentException) {
            return key + ": " + cause.getMessage();
        }
        if (e instanceof InvalidFormatException f) {
            return key + ": '" + f.getValue() + "' is not a valid " + f.getTargetType().getSimpleName().toLowerCase();
        }
        if (e instanceof MismatchedInputException mi && mi.getTargetType() != null) {
            Class<?> t = mi.getTargetType();
            String what = t.getEnclosingClass() == RelayConfig.class || t == RelayConfig.class ? "a mapping of keys"
                    : java.util.Collection.class.isAssignableFrom(t) ? "a list"
                    : "a " + t.getSimpleName().toLowerCase();
            return (key.isEmpty() ? "top level" : key) + ": expected " + what;
        }
        return key + ": " + e.getOriginalMessage();
    }

    private static String known(UnrecognizedPropertyException u) {
        if (u.getKnownPropertyIds() == null || u.getKnownPropertyIds().isEmpty()) {
            return "";
        }
        return " (known here: " + u.getKnownPropertyIds().stream().map(Object::toString).sorted()
                .collect(Collectors.joining(", ")) + ")";
    }

    /**
     * The rules a configuration must meet that need no more than its own values and the
     * readability of the files it names; {@code Preflight} adds those that need the machine
     * (table contents, certificates, ports). Every problem is collected.
     */
    public static Problems problems(RelayConfig c) {
        Problems p = new Problems();
        p.check("smtpd.listen", !c.smtpd.listen.isEmpty(), "at least one address is needed");
        p.check("smtpd.message-size-limit", c.smtpd.messageSizeLimit > 0, "must be a positive number of bytes");
        p.check("smtpd.recipient-limit", c.smtpd.recipientLimit > 0, "must be positive");
        p.check("smtpd.line-length-limit", c.smtpd.lineLengthLimit >= 512,
                "must be at least 512 (RFC 5321 command line length)");
        p.check("smtpd.max-connections", c.smtpd.maxConnections > 0, "must be positive");
        p.check("smtpd.io-threads", c.smtpd.ioThreads >= 0 && c.smtpd.ioThreads <= 256,
                "must be between 0 (half the available cores) and 256");
        p.check("smtpd.hopcount-limit", c.smtpd.hopcountLimit > 0, "must be positive");
        p.check("smtpd.forbid-bare-newline", BARE_NEWLINE.contains(c.smtpd.forbidBareNewline),
                "'" + c.smtpd.forbidBareNewline + "' is not one of normalize, reject, no");
        p.check("smtpd.receive-memory-limit", c.smtpd.receiveMemoryLimit >= 0,
                "must be a number of bytes (0: a quarter of the heap)");
        p.check("smtpd.timeout", !c.smtpd.timeout.isZero(), "must not be zero");
        p.check("smtpd.tls-key-file", (c.smtpd.tlsCertFile == null) == (c.smtpd.tlsKeyFile == null),
                "smtpd.tls-cert-file and smtpd.tls-key-file are set together or not at all");
        p.check("smtpd.auth-failure-limit", c.smtpd.authFailureLimit >= 0, "must be 0 (no lockout) or positive");
        p.check("smtpd.auth-failure-window", !c.smtpd.authFailureWindow.isZero() && !c.smtpd.authFailureWindow.isNegative(),
                "must be a positive duration, e.g. 5m");
        if (c.smtpd.saslUsersFile != null && unreadable(c.smtpd.saslUsersFile).isEmpty()) {
            try {
                io.relay.node.auth.UsersFile.read(c.smtpd.saslUsersFile);
            } catch (IllegalArgumentException e) {
                p.add("smtpd.sasl-users-file", e.getMessage());
            } catch (java.io.IOException e) {
                p.add("smtpd.sasl-users-file", "cannot read " + c.smtpd.saslUsersFile + ": " + e.getMessage());
            }
        } else {
            readable(p, "smtpd.sasl-users-file", c.smtpd.saslUsersFile);
        }
        OpenRelayGuard.risks(c.smtpd, p).stream().filter(r -> !c.smtpd.allowOpenRelay)
                .forEach(r -> p.add(r.key(), r.reason() + OpenRelayGuard.REFUSED));
        p.check("smtp.tls-security-level", TLS_LEVELS.contains(c.smtp.tlsSecurityLevel),
                "'" + c.smtp.tlsSecurityLevel + "' is not one of none, may, encrypt, verify, secure");
        readable(p, "smtp.tls-ca-file", c.smtp.tlsCaFile);
        readable(p, "smtp.sasl-password-file", c.smtp.saslPasswordFile);
        c.smtp.transports.forEach((name, t) -> {
            readable(p, "smtp.transports." + name + ".tls-ca-file", t.tlsCaFile);
            readable(p, "smtp.transports." + name + ".sasl-password-file", t.saslPasswordFile);
        });
        p.check("smtp.destination-concurrency-limit", c.smtp.destinationConcurrencyLimit > 0, "must be positive");
        if (p.check("queue.spool-dir", c.queue.spoolDir != null, "must be set")) {
            p.check("queue.spool-dir", !Files.exists(c.queue.spoolDir) || Files.isDirectory(c.queue.spoolDir),
                    c.queue.spoolDir + " is a file, not a directory");
        }
        p.check("queue.maximal-backoff-time", c.queue.maximalBackoffTime.compareTo(c.queue.minimalBackoffTime) >= 0,
                "must not be shorter than queue.minimal-backoff-time");
        p.check("queue.delivery-concurrency", c.queue.deliveryConcurrency > 0, "must be positive");
        p.check("queue.backup-count", c.queue.backupCount >= 0 && c.queue.backupCount <= 6, "must be 0 to 6");
        p.check("queue.max-messages", c.queue.maxMessages > 0, "must be positive");
        p.check("queue.max-bytes", c.queue.maxBytes > 0, "must be positive");
        p.check("queue.max-index-memory", c.queue.maxIndexMemory > 0, "must be positive");
        p.check("queue.min-free-bytes", c.queue.minFreeBytes >= 0, "must be a number of bytes (0: no check)");
        p.check("cluster.name", c.cluster.name != null && !c.cluster.name.isBlank(), "must not be empty");
        validateCluster(c.cluster, p);
        p.check("admin.tls.key-file", (c.admin.tls.certFile == null) == (c.admin.tls.keyFile == null),
                "admin.tls.cert-file and admin.tls.key-file are set together or not at all");
        readable(p, "admin.tls.cert-file", c.admin.tls.certFile);
        readable(p, "admin.tls.key-file", c.admin.tls.keyFile);
        readable(p, "dkim.key-encryption-key-file", c.dkim.keyEncryptionKeyFile);
        if (c.dkim.keyEncryptionKeyFile != null && unreadable(c.dkim.keyEncryptionKeyFile).isEmpty()) {
            try {
                io.relay.node.cluster.DkimKeyVault.fromFile(c.dkim.keyEncryptionKeyFile);
            } catch (IllegalArgumentException e) {
                p.add("dkim.key-encryption-key-file", e.getMessage().replaceFirst("^dkim.key-encryption-key-file ", ""));
            }
        }
        c.smtp.transports.forEach((name, t) -> p.check("smtp.transports." + name + ".dkim",
                t.dkim == null || t.dkim.strip().equalsIgnoreCase("on") || t.dkim.strip().equalsIgnoreCase("off"),
                "'" + t.dkim + "' is not one of on, off"));
        p.check("dkim.fallback-domain", c.dkim.fallbackDomain == null
                || c.dkim.fallbackDomain.strip().matches("[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+\\.?"), "must be a domain name");
        for (String d : c.dkim.required) {
            p.check("dkim.required", d != null && d.strip().matches("[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+\\.?"),
                    "'" + d + "' is not a domain name");
        }
        p.check("log.syslog-name", c.log.syslogName != null && c.log.syslogName.matches("[A-Za-z0-9_.-]+"),
                "must be a simple program name");
        return p;
    }

    private static void readable(Problems p, String key, Path file) {
        if (file != null) {
            unreadable(file).ifPresent(reason -> p.add(key, reason));
        }
    }

    /** Why {@code file} cannot be read, in the words every check uses (so one file is one line). */
    static java.util.Optional<String> unreadable(Path file) {
        if (Files.isReadable(file) && !Files.isDirectory(file)) {
            return java.util.Optional.empty();
        }
        String why = !Files.exists(file) ? "no such file" : Files.isDirectory(file) ? "a directory" : "permission denied";
        return java.util.Optional.of("cannot read " + file + " (" + why + ")");
    }

    private static void validateCluster(RelayConfig.Cluster c, Problems p) {
        IPAddress bind = c.listen == null ? null : new IPAddressString(c.listen.host()).getAddress();
        boolean ip = p.check("cluster.listen", bind != null,
                "'" + c.listen + "' needs an IP address (the member binds and advertises it)");
        if (ip && !c.allowPublicBind) {
            if (p.check("cluster.listen", !bind.isZero(), c.listen
                    + " binds every interface, public ones included; member traffic is unencrypted"
                    + " — bind a private address or set cluster.allow-public-bind: true")) {
                p.check("cluster.listen", PRIVATE_NETWORKS.contains(bind.toInetAddress()), c.listen
                        + " is a public address; member traffic is unencrypted — bind it to a private network"
                        + " or set cluster.allow-public-bind: true");
            }
        }
        p.check("cluster.heartbeat-timeout", c.heartbeatTimeout.toSeconds() >= 1, "must be at least 1s");
        p.check("cluster.merge-delay", c.mergeDelay.toSeconds() >= 1, "must be at least 1s");
        if (p.check("cluster.discovery", DISCOVERY.contains(c.discovery),
                "'" + c.discovery + "' is not one of tcp, aws, kubernetes")) {
            p.check("cluster.members", c.members.isEmpty() || c.discovery.equals("tcp"),
                    "static members are for cluster.discovery: tcp (it is " + c.discovery + ")");
            p.check("cluster.aws", c.aws.isEmpty() || c.discovery.equals("aws"),
                    "set, but cluster.discovery is " + c.discovery);
            p.check("cluster.kubernetes", c.kubernetes.isEmpty() || c.discovery.equals("kubernetes"),
                    "set, but cluster.discovery is " + c.discovery);
        }
    }

    /** Binds a scalar through a parser whose IllegalArgumentException names the problem. */
    private static final class FromText<T> extends JsonDeserializer<T> {
        private final java.util.function.Function<String, T> parser;

        FromText(java.util.function.Function<String, T> parser) {
            this.parser = parser;
        }

        @Override
        public T deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
            String text = p.getValueAsString();
            if (text == null) {
                throw JsonMappingException.from(p, "expected a text value");
            }
            try {
                return parser.apply(text);
            } catch (IllegalArgumentException e) {
                throw JsonMappingException.from(p, e.getMessage(), e);
            }
        }
    }
}
