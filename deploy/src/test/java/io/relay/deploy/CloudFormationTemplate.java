package io.relay.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.AbstractConstruct;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * A CloudFormation template read as CloudFormation reads it: the short forms of the
 * intrinsic functions ({@code !Ref X}, {@code !Sub '...'}, {@code !GetAtt A.B}, ...) become
 * their long forms ({@code {Ref: X}}, {@code {Fn::Sub: ...}}, {@code {Fn::GetAtt: [A, B]}}),
 * so the tests can tell a reference from a literal. {@link #value} evaluates the little that
 * the rules need (Ref to a parameter's default, Fn::Select over a list).
 */
final class CloudFormationTemplate {
    private static final List<String> FUNCTIONS = List.of("Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs",
            "ImportValue", "Join", "Select", "Split", "Sub", "Transform", "And", "Equals", "If", "Not", "Or");

    final Map<String, Object> root;

    private CloudFormationTemplate(Map<String, Object> root) {
        this.root = root;
    }

    @SuppressWarnings("unchecked")
    static CloudFormationTemplate read(Path file) throws IOException {
        Yaml yaml = new Yaml(new IntrinsicConstructor());
        return new CloudFormationTemplate((Map<String, Object>) yaml.load(Files.readString(file)));
    }

    /** SafeConstructor plus the intrinsic-function tags. */
    private static final class IntrinsicConstructor extends SafeConstructor {
        IntrinsicConstructor() {
            super(new LoaderOptions());
            yamlConstructors.put(new Tag("!Ref"), new Intrinsic("Ref"));
            yamlConstructors.put(new Tag("!Condition"), new Intrinsic("Condition"));
            for (String f : FUNCTIONS) {
                yamlConstructors.put(new Tag("!" + f), new Intrinsic("Fn::" + f));
            }
        }

        private final class Intrinsic extends AbstractConstruct {
            private final String key;

            Intrinsic(String key) {
                this.key = key;
            }

            @Override
            public Object construct(Node node) {
                Object value;
                if (node instanceof ScalarNode s) {
                    String text = constructScalar(s);
                    value = key.equals("Fn::GetAtt") ? List.of(text.split("\\.", 2)) : text;
                } else if (node instanceof SequenceNode q) {
                    value = constructSequence(q);
                } else {
                    value = constructMapping((MappingNode) node);
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put(key, value);
                return m;
            }
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) {
        return (List<Object>) o;
    }

    Map<String, Object> resources() {
        return map(root.get("Resources"));
    }

    Map<String, Object> parameters() {
        return map(root.get("Parameters"));
    }

    Map<String, Object> properties(String logicalId) {
        Map<String, Object> r = map(resources().get(logicalId));
        if (r == null) {
            throw new AssertionError("no resource " + logicalId);
        }
        return map(r.get("Properties"));
    }

    /** Logical ids of the resources of a type, in template order. */
    List<String> ofType(String type) {
        List<String> out = new ArrayList<>();
        resources().forEach((id, r) -> {
            if (type.equals(map(r).get("Type"))) {
                out.add(id);
            }
        });
        return out;
    }

    /** The name a {@code {Ref: X}} points to, or null when the value is not a Ref. */
    static String ref(Object o) {
        return o instanceof Map<?, ?> m && m.size() == 1 && m.get("Ref") instanceof String s ? s : null;
    }

    /**
     * The value with parameters at their defaults: literals as they are, Ref to a parameter
     * its Default (a CommaDelimitedList split), Fn::Select of a list; anything else unchanged.
     */
    Object value(Object o) {
        String ref = ref(o);
        if (ref != null && parameters().containsKey(ref)) {
            Map<String, Object> p = map(parameters().get(ref));
            Object d = p.get("Default");
            if ("CommaDelimitedList".equals(p.get("Type"))) {
                return List.of(String.valueOf(d).split("\\s*,\\s*"));
            }
            return d == null ? null : String.valueOf(d);
        }
        if (o instanceof Map<?, ?> m && m.size() == 1 && m.containsKey("Fn::Select")) {
            List<Object> args = list(m.get("Fn::Select"));
            Object from = value(args.get(1));
            if (from instanceof List<?> l) {
                return value(l.get(Integer.parseInt(String.valueOf(value(args.get(0))))));
            }
        }
        return o instanceof Number n ? String.valueOf(n) : o;
    }

    int intValue(Object o) {
        return Integer.parseInt(String.valueOf(value(o)));
    }
}
