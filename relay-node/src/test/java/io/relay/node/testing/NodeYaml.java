package io.relay.node.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A node's YAML for a test: the operator's keys the test is about, written as an operator
 * writes them, with the keys that keep tests apart on one machine filled in where the
 * operator's text leaves them out: {@code smtpd.listen}, {@code health.listen} and
 * {@code cluster.listen} on loopback ports of their own, {@code queue.spool-dir} and
 * {@code log.file} in the node's directory. A key the operator's text sets always wins
 * (e.g. an unusable spool dir on purpose).
 *
 * <pre>{@code
 * String yaml = NodeYaml.in(nodeDir, smtp).with("""
 *         smtp:
 *           relayhost: "[127.0.0.1]:%d"
 *         """.formatted(upstream.port()));
 * }</pre>
 *
 * The operator's text is kept as it is, line for line: a missing key goes in under its
 * section's header (a block-style section) or in a new section at the end. Rewriting the
 * text through a YAML tree would not do: it turns {@code forbid-bare-newline: no} into
 * {@code false}, where the node reads the word {@code no}.
 */
public record NodeYaml(Path dir, int smtp, int health, int cluster) {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** A node in {@code dir} listening for SMTP on 127.0.0.1:{@code smtp}; health and cluster on free ports. */
    public static NodeYaml in(Path dir, int smtp) {
        return new NodeYaml(dir, smtp, Ports.free(), Ports.free());
    }

    /** The mail log's path ({@code log.file}) unless the operator's text sets another. */
    public Path mailLog() {
        return dir.resolve("mail.log");
    }

    /** {@code operatorYaml} (may be empty) with this node's own ports, spool and mail log added where it is silent. */
    public String with(String operatorYaml) {
        JsonNode operator = tree(operatorYaml);
        StringBuilder text = new StringBuilder(operatorYaml);
        if (text.length() > 0 && text.charAt(text.length() - 1) != '\n') {
            text.append('\n');
        }
        add(text, operator, "smtpd", "listen", "[" + quoted("127.0.0.1:" + smtp) + "]");
        add(text, operator, "queue", "spool-dir", quoted(dir.resolve("spool").toString()));
        add(text, operator, "health", "listen", quoted("127.0.0.1:" + health));
        add(text, operator, "cluster", "listen", quoted("127.0.0.1:" + cluster));
        add(text, operator, "log", "file", quoted(mailLog().toString()));
        tree(text.toString()); // still one valid mapping
        return text.toString();
    }

    private static void add(StringBuilder text, JsonNode operator, String section, String key, String value) {
        JsonNode has = operator.get(section);
        if (has == null) {
            text.append(section).append(":\n  ").append(key).append(": ").append(value).append('\n');
            return;
        }
        if (has.has(key)) {
            return;
        }
        Matcher header = Pattern.compile("(?m)^" + section + ":[ \t]*(#.*)?$").matcher(text);
        if (!header.find()) {
            throw new IllegalArgumentException("NodeYaml adds " + section + "." + key + " under a block-style '"
                    + section + ":' line; write the section that way:\n" + text);
        }
        Matcher child = Pattern.compile("(?m)^([ \t]+)[^ \t#\n]").matcher(text);
        String indent = has.size() > 0 && child.find(header.end()) ? child.group(1) : "  ";
        text.insert(header.end(), "\n" + indent + key + ": " + value);
    }

    private static JsonNode tree(String yaml) {
        JsonNode node;
        try {
            node = YAML.readTree(yaml);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid YAML: " + e.getOriginalMessage() + "\n" + yaml, e);
        }
        if (node == null || node.isMissingNode() || node.isNull()) {
            return YAML.createObjectNode();
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException("not a YAML mapping:\n" + yaml);
        }
        return node;
    }

    /** A YAML double-quoted scalar (JSON's string syntax is YAML's). */
    private static String quoted(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
