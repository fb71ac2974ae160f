package io.relay.node.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
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

    public static RelayConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        return parse(text, file.toString());
    }

    public static RelayConfig parse(String yaml, String source) {
        RelayConfig config;
        if (yaml.isBlank() || yaml.lines().allMatch(l -> l.isBlank() || l.stripLeading().startsWith("#"))) {
            config = new RelayConfig(); // an empty file means all defaults
            validate(config, source);
            return config;
        }
        try {
            config = mapper().readValue(yaml, RelayConfig.class);
        } catch (JsonMappingException e) {
            if (e.getCause() instanceof com.fasterxml.jackson.core.exc.StreamReadException bad) {
                throw notYaml(source, bad);
            }
            throw new ConfigException(source + ": " + describe(e));
        } catch (JsonProcessingException e) {
            throw notYaml(source, e);
        }

        if (config == null) {
            config = new RelayConfig(); // an empty file means all defaults
        }
        validate(config, source);
        return config;
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

    private static String describe(JsonMappingException e) {
        String key = e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
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

    private static void validate(RelayConfig c, String source) {
        check(source, "smtpd.listen", !c.smtpd.listen.isEmpty(), "at least one address is needed");
        check(source, "smtpd.message-size-limit", c.smtpd.messageSizeLimit > 0, "must be a positive number of bytes");
        check(source, "smtpd.recipient-limit", c.smtpd.recipientLimit > 0, "must be positive");
        check(source, "smtpd.line-length-limit", c.smtpd.lineLengthLimit >= 512,
                "must be at least 512 (RFC 5321 command line length)");
        check(source, "smtpd.max-connections", c.smtpd.maxConnections > 0, "must be positive");
        check(source, "smtpd.io-threads", c.smtpd.ioThreads >= 0 && c.smtpd.ioThreads <= 256,
                "must be between 0 (half the available cores) and 256");
        check(source, "smtpd.hopcount-limit", c.smtpd.hopcountLimit > 0, "must be positive");
        check(source, "smtpd.forbid-bare-newline", BARE_NEWLINE.contains(c.smtpd.forbidBareNewline),
                "'" + c.smtpd.forbidBareNewline + "' is not one of normalize, reject, no");
        check(source, "smtpd.receive-memory-limit", c.smtpd.receiveMemoryLimit >= 0,
                "must be a number of bytes (0: a quarter of the heap)");
        check(source, "smtpd.timeout", !c.smtpd.timeout.isZero(), "must not be zero");
        check(source, "smtpd.tls-key-file", (c.smtpd.tlsCertFile == null) == (c.smtpd.tlsKeyFile == null),
                "smtpd.tls-cert-file and smtpd.tls-key-file are set together or not at all");
        try {
            NetworkSet.parse(c.smtpd.mynetworks);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source + ": smtpd.mynetworks: " + e.getMessage());
        }
        try {
            NetworkSet.parse(c.smtpd.proxyProtocol.trustedNetworks);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source + ": smtpd.proxy-protocol.trusted-networks: " + e.getMessage());
        }
        check(source, "smtp.tls-security-level", TLS_LEVELS.contains(c.smtp.tlsSecurityLevel),
                "'" + c.smtp.tlsSecurityLevel + "' is not one of none, may, encrypt, verify, secure");
        check(source, "smtp.tls-ca-file", c.smtp.tlsCaFile == null || Files.isReadable(c.smtp.tlsCaFile),
                "cannot read " + c.smtp.tlsCaFile);
        check(source, "smtp.sasl-password-file",
                c.smtp.saslPasswordFile == null || Files.isReadable(c.smtp.saslPasswordFile),
                "cannot read " + c.smtp.saslPasswordFile);
        check(source, "smtp.destination-concurrency-limit", c.smtp.destinationConcurrencyLimit > 0, "must be positive");
        check(source, "queue.spool-dir", c.queue.spoolDir != null, "must be set");
        check(source, "queue.maximal-backoff-time",
                c.queue.maximalBackoffTime.compareTo(c.queue.minimalBackoffTime) >= 0,
                "must not be shorter than queue.minimal-backoff-time");
        check(source, "queue.delivery-concurrency", c.queue.deliveryConcurrency > 0, "must be positive");
        check(source, "queue.backup-count", c.queue.backupCount >= 0 && c.queue.backupCount <= 6, "must be 0 to 6");
        check(source, "queue.max-messages", c.queue.maxMessages > 0, "must be positive");
        if (c.queue.maxBytes == RelayConfig.Queue.AUTO_MAX_BYTES) {
            c.queue.maxBytes = RelayConfig.Queue.defaultMaxBytes(Runtime.getRuntime().maxMemory(), c.queue.backupCount);
        }
        check(source, "queue.max-bytes", c.queue.maxBytes > 0, "must be positive");
        check(source, "cluster.name", c.cluster.name != null && !c.cluster.name.isBlank(), "must not be empty");
        validateCluster(c.cluster, source);
        check(source, "admin.tls.key-file", (c.admin.tls.certFile == null) == (c.admin.tls.keyFile == null),
                "admin.tls.cert-file and admin.tls.key-file are set together or not at all");
        check(source, "admin.tls.cert-file", c.admin.tls.certFile == null || Files.isReadable(c.admin.tls.certFile),
                "cannot read " + c.admin.tls.certFile);
        check(source, "admin.tls.key-file", c.admin.tls.keyFile == null || Files.isReadable(c.admin.tls.keyFile),
                "cannot read " + c.admin.tls.keyFile);
        check(source, "log.syslog-name", c.log.syslogName != null && c.log.syslogName.matches("[A-Za-z0-9_.-]+"),
                "must be a simple program name");
    }

    private static void validateCluster(RelayConfig.Cluster c, String source) {
        IPAddress bind = c.listen == null ? null : new IPAddressString(c.listen.host()).getAddress();
        check(source, "cluster.listen", bind != null,
                "'" + c.listen + "' needs an IP address (the member binds and advertises it)");
        if (!c.allowPublicBind) {
            check(source, "cluster.listen", !bind.isZero(), c.listen
                    + " binds every interface, public ones included; member traffic is unencrypted"
                    + " — bind a private address or set cluster.allow-public-bind: true");
            check(source, "cluster.listen", PRIVATE_NETWORKS.contains(bind.toInetAddress()), c.listen
                    + " is a public address; member traffic is unencrypted — bind it to a private network"
                    + " or set cluster.allow-public-bind: true");
        }
        check(source, "cluster.heartbeat-timeout", c.heartbeatTimeout.toSeconds() >= 1, "must be at least 1s");
        check(source, "cluster.merge-delay", c.mergeDelay.toSeconds() >= 1, "must be at least 1s");
        check(source, "cluster.discovery", DISCOVERY.contains(c.discovery),
                "'" + c.discovery + "' is not one of tcp, aws, kubernetes");
        check(source, "cluster.members", c.members.isEmpty() || c.discovery.equals("tcp"),
                "static members are for cluster.discovery: tcp (it is " + c.discovery + ")");
        check(source, "cluster.aws", c.aws.isEmpty() || c.discovery.equals("aws"),
                "set, but cluster.discovery is " + c.discovery);
        check(source, "cluster.kubernetes", c.kubernetes.isEmpty() || c.discovery.equals("kubernetes"),
                "set, but cluster.discovery is " + c.discovery);
    }

    private static void check(String source, String key, boolean ok, String reason) {
        if (!ok) {
            throw new ConfigException(source + ": " + key + ": " + reason);
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
