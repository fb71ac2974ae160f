package io.relay.node.testing;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The operator's part of a test node's YAML, built key by key: what a test is about stands
 * out, and the settings most end-to-end tests share (relay everything to a local sink, retry
 * within seconds, trust loopback) are one call each. The text it writes is block-style
 * YAML with values as given (so {@code no} stays the word {@code no}); {@link NodeYaml}
 * adds the listeners, spool and mail log a test leaves out.
 *
 * <pre>{@code
 * String yaml = NodeYaml.in(dir, smtp).with(RelayYaml.relayingTo(sink.port())
 *         .hostname("a.relay.test").quickRetries()
 *         .cluster("e2e", members).text());
 * }</pre>
 */
public final class RelayYaml {
    /** A section's (or nested mapping's) keys in the order set; a value is a String, a mapping or a Block. */
    private final Map<String, Object> root = new LinkedHashMap<>();

    /** YAML lines, as written, to go inside a section. */
    private record Block(String text) {
    }

    private RelayYaml() {
    }

    /** Nothing set yet. */
    public static RelayYaml create() {
        return new RelayYaml();
    }

    /**
     * Everything relayed to {@code [127.0.0.1]:port} without TLS, for clients on loopback:
     * the set-up of the tests whose upstream is a local sink.
     */
    public static RelayYaml relayingTo(int port) {
        return create().trust("127.0.0.0/8").relayhost(port).set("smtp.tls-security-level", "none");
    }

    /** The smtp transport by default, to relayhost {@code [127.0.0.1]:port}. */
    public RelayYaml relayhost(int port) {
        return set("smtp.default-transport", "smtp").set("smtp.relayhost", "\"[127.0.0.1]:" + port + "\"");
    }

    /** Sets {@code path} (dotted: "smtpd.proxy-protocol.required") to {@code value}, written as given. */
    public RelayYaml set(String path, Object value) {
        String[] keys = path.split("\\.");
        Map<String, Object> at = root;
        for (int i = 0; i < keys.length - 1; i++) {
            at = mapping(at, keys[i]);
        }
        at.put(keys[keys.length - 1], String.valueOf(value));
        return this;
    }

    /** Adds YAML lines (indented as one mapping) inside {@code section}, e.g. a test's own transport table. */
    public RelayYaml block(String section, String yaml) {
        if (!yaml.isBlank()) {
            Map<String, Object> in = mapping(root, section);
            in.put("\0block " + in.size(), new Block(yaml)); // a key no YAML key can equal
        }
        return this;
    }

    /** smtpd.hostname */
    public RelayYaml hostname(String name) {
        return set("smtpd.hostname", name);
    }

    /** smtpd.mynetworks */
    public RelayYaml trust(String... networks) {
        return set("smtpd.mynetworks", "[" + String.join(", ", networks) + "]");
    }

    /** smtpd.listen with several listeners on loopback (NodeYaml writes the single one). */
    public RelayYaml listen(int... ports) {
        StringBuilder b = new StringBuilder();
        for (int p : ports) {
            b.append(b.length() == 0 ? "" : ", ").append("\"127.0.0.1:").append(p).append('"');
        }
        return set("smtpd.listen", "[" + b + "]");
    }

    /** PROXY protocol from loopback (haproxy in the tests), required or optional. */
    public RelayYaml proxyProtocol(boolean required) {
        return set("smtpd.proxy-protocol.trusted-networks", "[127.0.0.0/8]")
                .set("smtpd.proxy-protocol.required", required);
    }

    /** A deferred message is tried again within 1-2 s, so a test sees its retry. */
    public RelayYaml quickRetries() {
        return backoff("1s", "2s");
    }

    /** queue.minimal-backoff-time and queue.maximal-backoff-time */
    public RelayYaml backoff(String minimal, String maximal) {
        return set("queue.minimal-backoff-time", minimal).set("queue.maximal-backoff-time", maximal);
    }

    /** health.drain-delay and health.drain-timeout */
    public RelayYaml drain(String delay, String timeout) {
        return set("health.drain-delay", delay).set("health.drain-timeout", timeout);
    }

    /** cluster.name and cluster.members ("127.0.0.1:P, 127.0.0.1:Q"); the listen port comes from NodeYaml. */
    public RelayYaml cluster(String name, String members) {
        return set("cluster.name", name).set("cluster.members", "[" + members + "]");
    }

    /** As above, the members as a list. */
    public RelayYaml cluster(String name, List<String> members) {
        return cluster(name, String.join(", ", members));
    }

    /** The admin API on loopback with the token in {@code tokenFile}. */
    public RelayYaml admin(int port, Path tokenFile) {
        return set("admin.listen", "127.0.0.1:" + port).set("admin.token-file", tokenFile);
    }

    /** The YAML text. */
    public String text() {
        StringBuilder b = new StringBuilder();
        write(b, root, "");
        return b.toString();
    }

    @Override
    public String toString() {
        return text();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> mapping(Map<String, Object> in, String key) {
        Object v = in.computeIfAbsent(key, k -> new LinkedHashMap<String, Object>());
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException(key + " is set to a value, not a mapping");
        }
        return (Map<String, Object>) v;
    }

    @SuppressWarnings("unchecked")
    private static void write(StringBuilder b, Map<String, Object> m, String indent) {
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Block block) {
                b.append(block.text().stripIndent().stripTrailing().indent(indent.length()));
            } else if (v instanceof Map<?, ?> nested) {
                b.append(indent).append(e.getKey()).append(":\n");
                write(b, (Map<String, Object>) nested, indent + "  ");
            } else {
                b.append(indent).append(e.getKey()).append(": ").append(v).append('\n');
            }
        }
    }
}
