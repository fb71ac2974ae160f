package io.relay.node.config;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A loaded configuration as its YAML keys and values ({@code smtpd.timeout -> 300s}), defaults
 * included, so two loads can be compared key by key (what a SIGHUP reload changed). Lists are
 * one value each; mappings (transports, discovery properties) are walked down to their leaves.
 */
public final class ConfigKeys {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new SimpleModule("relay-config-keys")
                    .addSerializer(Duration.class, new DurationText())
                    .addSerializer(HostPort.class, ToStringSerializer.instance)
                    .addSerializer(Path.class, ToStringSerializer.instance))
            .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE);

    private ConfigKeys() {
    }

    /** Every key of {@code config} with its value as text ("null" when unset), in key order. */
    public static SortedMap<String, String> of(RelayConfig config) {
        SortedMap<String, String> out = new TreeMap<>();
        walk("", MAPPER.valueToTree(config), out);
        return out;
    }

    private static void walk(String key, JsonNode node, SortedMap<String, String> out) {
        if (node.isObject() && node.size() > 0) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                walk(key.isEmpty() ? e.getKey() : key + "." + e.getKey(), e.getValue(), out);
            }
        } else {
            out.put(key, node.isTextual() ? node.asText() : node.toString());
        }
    }

    /** Durations as the YAML writes them ({@code 300s}), not ISO-8601. */
    private static final class DurationText extends JsonSerializer<Duration> {
        @Override
        public void serialize(Duration d, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeString(Durations.format(d));
        }
    }
}
