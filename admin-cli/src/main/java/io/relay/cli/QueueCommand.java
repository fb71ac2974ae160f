package io.relay.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.relay.admin.api.AdminApi;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl queue}: the whole cluster's queue, mirroring {@code /admin/v1/queue}:
 * {@code summary} (qshape), {@code list} (mailq), {@code show} (postcat -e/-h),
 * {@code hold}/{@code release}/{@code delete} (postsuper -h/-H/-d) and {@code retry}
 * (postqueue -f). A selection by {@code --all} or {@code --nexthop} is selected first (ids
 * only, on the members that own the messages) and then changed in batches of {@link #BATCH},
 * with a progress line on a terminal. Next hops are as the router decides them
 * ({@code [email-smtp.us-east-1.amazonaws.com]:587}), as {@code queue summary} shows them.
 */
@Command(name = "queue", mixinStandardHelpOptions = true,
        description = "Look at and manage the mail queue of the whole cluster.",
        subcommands = {QueueCommand.Summary.class, QueueCommand.ListQueue.class, QueueCommand.Show.class,
                QueueCommand.Hold.class, QueueCommand.Release.class, QueueCommand.Delete.class,
                QueueCommand.Retry.class})
final class QueueCommand extends AdminGroup {
    static final String PATH = "admin/v1/queue";
    /** Ids per POST: 2000 queue ids are ~50 KB of JSON, under the admin API's 64 KB body limit. */
    static final int BATCH = 2000;

    QueueCommand() {
        super("summary, list, show, hold, release, delete or retry");
    }

    @Command(name = "summary", mixinStandardHelpOptions = true,
            description = "Messages per next hop (where the router sends them) and age, like qshape.")
    static final class Summary extends AdminCall {
        @Override
        public Integer call() {
            JsonNode s = client().get(PATH + "/summary", JsonNode.class);
            return print(s, out -> {
                List<String[]> rows = new ArrayList<>();
                List<String> head = new ArrayList<>(List.of("NEXTHOP", "TOTAL"));
                s.get("buckets").forEach(b -> head.add(b.asText()));
                rows.add(head.toArray(String[]::new));
                for (JsonNode r : s.get("rows")) {
                    List<String> cells = new ArrayList<>(List.of(r.get("nexthop").asText(), r.get("total").asText()));
                    r.get("counts").forEach(c -> cells.add(c.asText()));
                    rows.add(cells.toArray(String[]::new));
                }
                Table.print(out, rows);
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List queued messages, oldest first.")
    static final class ListQueue extends AdminCall {
        @Option(names = "--state", paramLabel = "STATE", description = "active, deferred or hold")
        String state;
        @Option(names = "--nexthop", paramLabel = "NEXTHOP",
                description = "only messages with a recipient routed there, as 'queue summary' shows it")
        String nexthop;
        @Option(names = "--sender", paramLabel = "ADDRESS", description = "only messages from this sender")
        String sender;
        @Option(names = "--limit", paramLabel = "N", defaultValue = "100",
                description = "show at most N (default ${DEFAULT-VALUE}; 0: all)")
        int limit;

        @Override
        public Integer call() {
            if (state != null && !List.of("active", "deferred", "hold").contains(state)) {
                throw new ParameterException(spec.commandLine(), "--state must be active, deferred or hold");
            }
            if (limit < 0) {
                throw new ParameterException(spec.commandLine(), "--limit must be 0 or more");
            }
            JsonNode l = client().get(listPath(state, nexthop, sender, limit), JsonNode.class);
            return print(l, out -> {
                List<String[]> rows = new ArrayList<>();
                rows.add(new String[] {"ID", "STATE", "SIZE", "AGE", "ATTEMPTS", "SENDER", "RECIPIENTS", "REASON"});
                for (JsonNode m : l.get("messages")) {
                    List<String> rcpts = new ArrayList<>();
                    m.get("recipients").forEach(r -> rcpts.add(r.asText()));
                    rows.add(new String[] {m.get("id").asText(), m.get("state").asText(), m.get("size").asText(),
                            age(m.get("ageSeconds").asLong()), m.get("attempts").asText(),
                            m.get("sender").asText().isEmpty() ? "<>" : m.get("sender").asText(),
                            String.join(",", rcpts), m.has("reason") ? m.get("reason").asText() : ""});
                }
                Table.print(out, rows);
                long matched = l.get("matched").asLong();
                if (matched > l.get("messages").size()) {
                    out.println("(" + l.get("messages").size() + " of " + matched + " shown; --limit 0 shows all)");
                }
            });
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "One message: envelope, headers, attempts, last reason, next attempt.")
    static final class Show extends AdminCall {
        @Parameters(paramLabel = "ID", description = "a queue id as 'queue list' shows it")
        String id;

        @Override
        public Integer call() {
            JsonNode d = client().get(PATH + "/" + URLEncoder.encode(id.strip(), StandardCharsets.UTF_8), JsonNode.class);
            return print(d, out -> {
                List<String[]> rows = new ArrayList<>();
                for (String f : List.of("id", "state", "sender", "recipients", "pending", "client", "helo", "protocol",
                        "size", "arrival", "attempts", "nextAttempt", "lastReason")) {
                    JsonNode v = d.get(f);
                    if (v != null) {
                        rows.add(new String[] {f + ":", text(v)});
                    }
                }
                Table.print(out, rows);
                if (d.has("headers")) {
                    out.println();
                    d.get("headers").forEach(h -> out.println(h.asText()));
                }
            });
        }

        private static String text(JsonNode v) {
            if (!v.isArray()) {
                return v.asText();
            }
            List<String> parts = new ArrayList<>();
            v.forEach(x -> parts.add(x.asText()));
            return String.join(", ", parts);
        }
    }

    /** The selection every changing subcommand takes. */
    abstract static class Change extends AdminCall {
        @Parameters(arity = "0..*", paramLabel = "ID", description = "queue ids")
        List<String> ids = new ArrayList<>();
        @Option(names = "--all", description = "every message in the queue")
        boolean all;
        @Option(names = "--nexthop", paramLabel = "NEXTHOP",
                description = "every message with a recipient routed there, as 'queue summary' shows it")
        String nexthop;

        private final String action;
        private final String pastTense;

        /** The endpoint under {@code queue/} (e.g. "hold") and how the summary line says it is done ("held"). */
        Change(String action, String pastTense) {
            this.action = action;
            this.pastTense = pastTense;
        }

        @Override
        public Integer call() {
            int ways = (ids.isEmpty() ? 0 : 1) + (all ? 1 : 0) + (nexthop != null ? 1 : 0);
            if (ways != 1) {
                throw new ParameterException(spec.commandLine(), "give queue ids, --all or --nexthop NEXTHOP (one of them)");
            }
            AdminClient client = client();
            List<String> selected = ids;
            if (ids.isEmpty()) {
                StringBuilder path = new StringBuilder(PATH).append("/ids");
                if (nexthop != null) {
                    path.append("?nexthop=").append(URLEncoder.encode(nexthop, StandardCharsets.UTF_8));
                }
                JsonNode l = client.get(path.toString(), JsonNode.class);
                selected = new ArrayList<>();
                for (JsonNode id : l.get("ids")) {
                    selected.add(id.asText());
                }
            }
            // a progress line only for a person watching (stderr, so --json and pipes stay clean)
            boolean progress = !json() && System.console() != null && selected.size() > BATCH;
            long started = System.nanoTime();
            PrintWriter err = err();
            ArrayNode touched = AdminClient.JSON.createArrayNode();
            for (int i = 0; i < selected.size(); i += BATCH) {
                List<String> batch = selected.subList(i, Math.min(selected.size(), i + BATCH));
                JsonNode r = client.post(PATH + "/" + action, new AdminApi.QueueSelection(batch, false, null),
                        JsonNode.class);
                r.get("ids").forEach(touched::add);
                if (progress) {
                    int done = Math.min(selected.size(), i + BATCH);
                    err.print("\r" + action + ": " + done + "/" + selected.size() + " ("
                            + done * 100L / selected.size() + "%, " + (System.nanoTime() - started) / 1_000_000_000L
                            + " s)");
                    err.flush();
                }
            }
            if (progress) {
                err.println();
            }
            ObjectNode o = AdminClient.JSON.createObjectNode();
            o.put("action", action);
            o.put("selected", selected.size());
            o.put("touched", touched.size());
            o.set("ids", touched);
            String line = pastTense + " " + touched.size() + " of " + selected.size() + " selected message"
                    + (selected.size() == 1 ? "" : "s");
            return print(o, out -> out.println(line));
        }
    }

    @Command(name = "hold", mixinStandardHelpOptions = true,
            description = "Put messages on hold (postsuper -h): not attempted until released.")
    static final class Hold extends Change {
        Hold() {
            super("hold", "held");
        }
    }

    @Command(name = "release", mixinStandardHelpOptions = true,
            description = "Release held messages (postsuper -H): due again at their next attempt time.")
    static final class Release extends Change {
        Release() {
            super("release", "released");
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Remove messages from the queue for good (postsuper -d); no bounce is sent.")
    static final class Delete extends Change {
        Delete() {
            super("delete", "deleted");
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Attempt messages now (postqueue -f, postsuper -r); held messages stay held.")
    static final class Retry extends Change {
        Retry() {
            super("retry", "requeued");
        }
    }

    static String listPath(String state, String nexthop, String sender, int limit) {
        StringBuilder p = new StringBuilder(PATH).append("?limit=").append(limit);
        if (state != null) {
            p.append("&state=").append(URLEncoder.encode(state, StandardCharsets.UTF_8));
        }
        if (nexthop != null) {
            p.append("&nexthop=").append(URLEncoder.encode(nexthop, StandardCharsets.UTF_8));
        }
        if (sender != null) {
            p.append("&sender=").append(URLEncoder.encode(sender, StandardCharsets.UTF_8));
        }
        return p.toString();
    }

    static String age(long seconds) {
        if (seconds < 120) {
            return seconds + "s";
        }
        if (seconds < 7200) {
            return seconds / 60 + "m";
        }
        if (seconds < 172_800) {
            return seconds / 3600 + "h";
        }
        return seconds / 86_400 + "d";
    }
}
