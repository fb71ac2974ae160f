package io.relay.node.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.relay.admin.api.AdminApi;
import io.relay.node.cluster.QueueNextHops;
import io.relay.queue.NextHopNamer;
import io.relay.queue.QueueMeta;
import io.relay.queue.QueueOperations;
import io.relay.queue.QueueView;
import io.relay.queue.QueuedMessage;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/queue}: the whole cluster's queue, as Postfix's qshape, mailq, postcat,
 * postsuper and postqueue show and change it.
 * <ul>
 * <li>{@code GET .../queue/summary}: next hop (as routed: {@link QueueNextHops}) × age bucket counts;</li>
 * <li>{@code GET .../queue?state=active|deferred|hold&nexthop=&sender=&limit=}: the messages;</li>
 * <li>{@code GET .../queue/ids?state=&nexthop=}: only the ids, for a selection to change in batches;</li>
 * <li>{@code GET .../queue/ID}: envelope, headers, attempts, last reason, next attempt;</li>
 * <li>{@code POST .../queue/hold|release|delete|retry} with {@code {"ids":[...]}},
 * {@code {"all":true}} or {@code {"nexthop":"N"}}: answers how many it touched.</li>
 * </ul>
 * Reads are one cluster-wide query of {@code relay-meta}, filtered by state and next hop on
 * the members that own the entries (and a sender projection of {@code relay-messages} when a
 * list needs senders); changes are atomic per message ({@link QueueOperations#hold} etc.) and
 * batched per partition.
 * Each touched message writes one line to {@code admin.audit} ({@code ID: removed by ...}).
 */
final class QueueEndpoint implements AdminRequestHandler.Endpoint {
    static final String PATH = "/admin/v1/queue";
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");
    static final long[] BUCKET_MINUTES = {5, 10, 20, 40, 80};
    static final List<String> BUCKETS = List.of("0-5m", "5-10m", "10-20m", "20-40m", "40-80m", "80m+");
    private static final int HEADER_BYTES = 16 * 1024;

    private final QueueOperations queue;
    private final Supplier<Long> clock;

    QueueEndpoint(QueueOperations queue) {
        this(queue, System::currentTimeMillis);
    }

    QueueEndpoint(QueueOperations queue, Supplier<Long> clock) {
        this.queue = queue;
        this.clock = clock;
    }

    record Summary(List<String> buckets, long total, List<Row> rows) {
    }

    /** One next hop; {@code counts} per bucket. The first row is "TOTAL". */
    record Row(String nexthop, long total, long[] counts) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Item(String id, String state, String sender, long size, String arrival, long ageSeconds, int attempts,
                String nextAttempt, List<String> recipients, String reason) {
    }

    record Listing(long matched, List<Item> messages) {
    }

    record Ids(long matched, List<String> ids) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Detail(String id, String state, String sender, List<String> recipients, List<String> pending,
                  String client, String helo, String protocol, long size, String arrival, int attempts,
                  String nextAttempt, String lastReason, List<String> headers) {
    }

    record Outcome(String action, long selected, long touched, List<String> ids) {
    }

    @Override
    public String prefix() {
        return PATH;
    }

    @Override
    public Object handle(HttpMethod method, String path, QueryStringDecoder query, String body, String client) {
        String rest = path.length() > PATH.length() ? path.substring(PATH.length() + 1) : "";
        if (method.equals(HttpMethod.POST)) {
            return switch (rest) {
                case "hold", "release", "delete", "retry" ->
                        change(rest, AdminRequestHandler.parse(body, AdminApi.QueueSelection.class), client);
                default -> throw new NoSuchElementException("no such queue action: '" + rest
                        + "' (hold, release, delete or retry)");
            };
        }
        if (!method.equals(HttpMethod.GET)) {
            throw new UnsupportedOperationException("use GET or POST");
        }
        if (rest.isEmpty()) {
            return list(param(query, "state"), param(query, "nexthop"), param(query, "sender"), param(query, "limit"));
        }
        if (rest.equals("summary")) {
            return summary();
        }
        if (rest.equals("ids")) {
            return ids(param(query, "state"), param(query, "nexthop"));
        }
        return show(rest);
    }

    private static String param(QueryStringDecoder q, String name) {
        List<String> v = q.parameters().get(name);
        return v == null || v.isEmpty() || v.get(0).isBlank() ? null : v.get(0).strip();
    }

    static String state(QueueMeta m) {
        return m.state();
    }

    /**
     * Where the message's pending recipients go, once each: the routed next hops the queue
     * stored ({@link QueueNextHops}); the recipient domains for an entry an older node wrote.
     */
    static Set<String> nexthops(QueueMeta m) {
        if (!m.nextHops().isEmpty()) {
            return new LinkedHashSet<>(m.nextHops());
        }
        return new LinkedHashSet<>(NextHopNamer.RECIPIENT_DOMAIN.nextHops("", m.pending()));
    }

    static int bucket(long ageMillis) {
        long minutes = ageMillis / 60_000;
        for (int i = 0; i < BUCKET_MINUTES.length; i++) {
            if (minutes < BUCKET_MINUTES[i]) {
                return i;
            }
        }
        return BUCKET_MINUTES.length;
    }

    Summary summary() {
        return summarize(queue.clusterEntries(), clock.get());
    }

    /** Pure: the qshape table of these entries at {@code now}, next hops by total, descending. */
    static Summary summarize(List<QueueView.Entry> entries, long now) {
        Map<String, long[]> byHop = new LinkedHashMap<>();
        long[] total = new long[BUCKETS.size()];
        for (QueueView.Entry e : entries) {
            int b = bucket(Math.max(0, now - e.meta().arrivalMillis()));
            total[b]++;
            for (String hop : nexthops(e.meta())) {
                byHop.computeIfAbsent(hop, h -> new long[BUCKETS.size()])[b]++;
            }
        }
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("TOTAL", sum(total), total));
        byHop.forEach((hop, counts) -> rows.add(new Row(hop, sum(counts), counts)));
        rows.subList(1, rows.size()).sort(Comparator.comparingLong(Row::total).reversed().thenComparing(Row::nexthop));
        return new Summary(BUCKETS, entries.size(), rows);
    }

    private static long sum(long[] a) {
        long s = 0;
        for (long v : a) {
            s += v;
        }
        return s;
    }

    private static void checkState(String state) {
        if (state != null && !List.of("active", "deferred", "hold").contains(state)) {
            throw new IllegalArgumentException("state '" + state + "' is not active, deferred or hold");
        }
    }

    /** The ids in a state and at a next hop, selected on the owners; oldest first by id. */
    Ids ids(String state, String nexthop) {
        checkState(state);
        List<String> ids = queue.select(state, nexthop);
        return new Ids(ids.size(), ids);
    }

    Listing list(String state, String nexthop, String sender, String limitText) {
        checkState(state);
        int limit = 1000;
        if (limitText != null) {
            try {
                limit = Integer.parseInt(limitText);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 0) {
                throw new IllegalArgumentException("limit '" + limitText + "' is not a number >= 0 (0: no limit)");
            }
        }
        List<QueueView.Entry> entries = queue.clusterEntries(state, nexthop);
        Map<String, String> senders = entries.isEmpty() ? Map.of() : queue.clusterSenders();
        long now = clock.get();
        List<Item> items = new ArrayList<>();
        long matched = 0;
        for (QueueView.Entry e : entries) {
            QueueMeta m = e.meta();
            String id = e.id().value();
            String from = senders.getOrDefault(id, "?");
            if (sender != null && !from.equalsIgnoreCase(sender)) {
                continue;
            }
            matched++;
            if (limit == 0 || items.size() < limit) {
                items.add(new Item(id, state(m), from, m.size(), Instant.ofEpochMilli(m.arrivalMillis()).toString(),
                        Math.max(0, now - m.arrivalMillis()) / 1000, m.attempts(),
                        Instant.ofEpochMilli(m.nextAttemptMillis()).toString(), m.pending(),
                        m.lastReason().isEmpty() ? null : m.lastReason()));
            }
        }
        return new Listing(matched, items);
    }

    Detail show(String id) {
        var found = queue.find(id).orElseThrow(() -> new NoSuchElementException(id + ": no such message in the queue"
                + " (delivered, removed, or a mistyped id)"));
        QueueMeta m = found.getKey();
        QueuedMessage msg = found.getValue();
        String next = Instant.ofEpochMilli(m.nextAttemptMillis()).toString();
        String arrival = Instant.ofEpochMilli(m.arrivalMillis()).toString();
        if (msg == null) {
            return new Detail(id, state(m), null, null, m.pending(), null, null, null, m.size(), arrival, m.attempts(),
                    next, m.lastReason(), null);
        }
        var env = msg.envelope();
        return new Detail(id, state(m), env.sender(), env.recipients(), m.pending(),
                env.clientName() + "[" + env.clientAddress() + "]", env.heloName(), env.protocol(), m.size(), arrival,
                m.attempts(), next, m.lastReason(), headers(head(msg)));
    }

    /** The start of the content, enough for its headers (a large message's file is read no further). */
    private static byte[] head(QueuedMessage msg) {
        try {
            return msg.body().head(HEADER_BYTES);
        } catch (java.io.IOException e) {
            return new byte[0];
        }
    }

    /** The header lines (continuations joined), up to the blank line or {@link #HEADER_BYTES}. */
    static List<String> headers(byte[] content) {
        String text = new String(content, 0, Math.min(content.length, HEADER_BYTES), StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>();
        for (String line : text.split("\r?\n", -1)) {
            if (line.isEmpty()) {
                break;
            }
            if ((line.startsWith(" ") || line.startsWith("\t")) && !out.isEmpty()) {
                out.set(out.size() - 1, out.get(out.size() - 1) + " " + line.strip());
            } else {
                out.add(line);
            }
        }
        return out;
    }

    Outcome change(String action, AdminApi.QueueSelection sel, String client) {
        boolean hasIds = sel.ids() != null && !sel.ids().isEmpty();
        int ways = (hasIds ? 1 : 0) + (sel.all() ? 1 : 0) + (sel.nexthop() != null ? 1 : 0);
        if (ways != 1) {
            throw new IllegalArgumentException("select the messages one way: \"ids\":[...], \"all\":true or"
                    + " \"nexthop\":\"NEXTHOP\"");
        }
        List<String> ids;
        if (hasIds) {
            ids = sel.ids().stream().map(String::strip).toList();
        } else {
            ids = queue.select(null, sel.nexthop() == null ? null : sel.nexthop().strip());
        }
        List<String> touched = switch (action) {
            case "hold" -> queue.hold(ids, n -> { });
            case "release" -> queue.release(ids, n -> { });
            case "retry" -> queue.retry(ids, n -> { });
            default -> queue.delete(ids, n -> { });
        };
        String what = switch (action) {
            case "hold" -> "placed on hold";
            case "release" -> "released from hold";
            case "retry" -> "requeued for delivery now";
            default -> "removed";
        };
        for (String id : touched) {
            AUDIT.info("{}: {} by {} (relayctl queue {})", id, what, client, action);
        }
        AUDIT.info("queue {}: {} of {} selected messages by {}", action, touched.size(), ids.size(), client);
        return new Outcome(action, ids.size(), touched.size(), touched);
    }
}
