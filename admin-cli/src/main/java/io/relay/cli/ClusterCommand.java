package io.relay.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl cluster}: {@code status} (members, partitions and queue entries each
 * owns, readiness, this node's circuit breakers) from {@code GET /admin/v1/cluster}, and
 * {@code drain NODE}, sent to that node's own admin API ({@code POST /admin/v1/cluster/drain}).
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "Show the cluster's members or drain one node.",
        subcommands = {ClusterCommand.Status.class, ClusterCommand.DrainNode.class})
final class ClusterCommand extends AdminGroup {
    static final String PATH = "admin/v1/cluster";

    ClusterCommand() {
        super("status or drain");
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Members with their addresses, partitions, queued messages and readiness.")
    static final class Status extends AdminCall {
        @Override
        public Integer call() {
            JsonNode s = client().get(PATH, JsonNode.class);
            return print(s, out -> table(out, s));
        }

        private static void table(PrintWriter out, JsonNode s) {
            out.println("cluster " + s.get("cluster").asText() + ": " + s.get("size").asInt() + " members, "
                    + (s.get("clusterSafe").asBoolean() ? "all backups in sync" : "partitions migrating or backups behind"));
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"MEMBER", "HOST", "ADMIN", "PARTITIONS", "QUEUED", "READINESS"});
            for (JsonNode m : s.get("members")) {
                String readiness = m.get("readiness").asText();
                if (m.has("notReady")) {
                    List<String> why = new ArrayList<>();
                    m.get("notReady").forEach(w -> why.add(w.asText()));
                    readiness += " (" + String.join("; ", why) + ")";
                }
                rows.add(new String[] {m.get("address").asText() + (m.get("self").asBoolean() ? " *" : ""),
                        text(m, "hostname"), text(m, "admin"), m.get("partitions").asText(), m.get("queued").asText(),
                        readiness});
            }
            Table.print(out, rows);
            JsonNode breakers = s.get("breakers");
            if (breakers != null && breakers.size() > 0) {
                out.println();
                List<String[]> b = new ArrayList<>();
                b.add(new String[] {"NEXTHOP", "BREAKER (this node)"});
                for (Iterator<Map.Entry<String, JsonNode>> it = breakers.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    b.add(new String[] {e.getKey(), e.getValue().asText()});
                }
                Table.print(out, b);
            }
        }

        private static String text(JsonNode m, String field) {
            return m.has(field) ? m.get(field).asText() : "-";
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Ask a node to drain as on SIGTERM: not ready at once, then it closes its listeners,"
                    + " leaves the cluster and exits.")
    static final class DrainNode extends AdminCall {
        @Parameters(paramLabel = "NODE", description = "that node's admin address HOST:PORT (as 'cluster status' shows)")
        String node;

        @Override
        public Integer call() {
            JsonNode r = group.root.client(node).post(PATH + "/drain", Map.of(), JsonNode.class);
            return print(r, out -> out.println(r.get("node").asText() + " (" + node + "): draining — "
                    + r.get("detail").asText()));
        }
    }
}
