package io.relay.queue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/** Shared test scaffolding: free ports, settings, messages, a recording handler, polling. */
final class TestClusters {
    private TestClusters() {
    }

    private static final AtomicInteger NEXT_PORT = new AtomicInteger(
            20000 + (int) (ProcessHandle.current().pid() % 50) * 200);

    /** A free port below the ephemeral range, so no outgoing connection can take it before the member binds. */
    static int freePort() throws IOException {
        for (int tries = 0; tries < 12000; tries++) {
            int port = 20000 + Math.floorMod(NEXT_PORT.getAndIncrement() - 20000, 12000);
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return port;
            } catch (IOException taken) {
                // in use: try the next one
            }
        }
        throw new IOException("no free port in 20000-31999");
    }

    private static final QueueIds SPREAD = new QueueIds();

    /**
     * An id no member drew: its partition may be owned by any member, as happens to accepted
     * messages when partitions migrate (a member's own {@code newId} falls in its partitions).
     */
    static QueueId spreadId() {
        return SPREAD.next();
    }

    static String clusterName() {
        return "test-" + UUID.randomUUID();
    }

    static ClusterSettings alone(String name, int port) {
        return new ClusterSettings(name, "127.0.0.1", port, List.of(), 1);
    }

    static ClusterSettings joining(String name, int port, int... others) {
        List<String> members = new ArrayList<>();
        for (int o : others) {
            members.add("127.0.0.1:" + o);
        }
        return new ClusterSettings(name, "127.0.0.1", port, members, 1);
    }

    static QueueSettings settings(Path spool) {
        return new QueueSettings(spool, Duration.ofMillis(100), Duration.ofMillis(400), Duration.ofDays(5), 4,
                100_000, 1L << 30);
    }

    /** A queue on {@code member} whose view names next hops by the recipients' domains. */
    static ClusterQueue queue(ClusterMember member, QueueSettings settings, QueueEvents events) {
        return new ClusterQueue(member, settings, events, NextHopNamer.RECIPIENT_DOMAIN);
    }

    static ClusterQueue queue(ClusterMember member, QueueSettings settings) {
        return queue(member, settings, QueueEvents.NONE);
    }

    /** The messages {@code queue}'s member owns, as its queue gauges count them. */
    static long owned(ClusterQueue queue) {
        QueueView counts = queue.counts();
        return counts.active() + counts.deferred() + counts.held();
    }

    static QueuedMessage message(QueueId id, int bytes, String... recipients) {
        byte[] content = new byte[bytes];
        byte[] header = ("Subject: test " + id + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < bytes; i++) {
            content[i] = i < header.length ? header[i] : (byte) ('a' + i % 26);
        }
        List<String> rcpts = recipients.length == 0 ? List.of("to@example.org") : List.of(recipients);
        return new QueuedMessage(id, new Envelope("from@example.com", rcpts, "localhost", "127.0.0.1", "client.test",
                "ESMTP", false, false, System.currentTimeMillis()), content);
    }

    static void await(String what, Duration limit, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + limit + " waiting for: " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Delivers everything (or what {@code decide} says) and counts deliveries per id. */
    static final class RecordingHandler implements DeliveryHandler {
        final Map<String, AtomicInteger> deliveries = new ConcurrentHashMap<>();
        final List<Long> attemptTimes = java.util.Collections.synchronizedList(new ArrayList<>());
        final List<Integer> attemptNumbers = java.util.Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger expired = new AtomicInteger();
        volatile boolean deferAll;
        final Set<String> deferRecipients = ConcurrentHashMap.newKeySet();
        final List<DeliveryAttempt> attempts = java.util.Collections.synchronizedList(new ArrayList<>());
        volatile RuntimeException throwOnce;

        @Override
        public List<RecipientOutcome> deliver(DeliveryAttempt attempt) {
            attemptTimes.add(System.currentTimeMillis());
            attemptNumbers.add(attempt.attempt());
            attempts.add(attempt);
            RuntimeException t = throwOnce;
            if (t != null) {
                throwOnce = null;
                throw t;
            }
            if (deferAll) {
                return attempt.recipients().stream()
                        .<RecipientOutcome>map(r -> new RecipientOutcome.Deferred(r, "451 4.3.0 try later")).toList();
            }
            deliveries.computeIfAbsent(attempt.message().id().value(), k -> new AtomicInteger()).incrementAndGet();
            return attempt.recipients().stream().<RecipientOutcome>map(r -> deferRecipients.contains(r)
                    ? new RecipientOutcome.Deferred(r, "452 4.2.2 mailbox full") : new RecipientOutcome.Delivered(r)).toList();
        }

        @Override
        public void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes) {
            expired.incrementAndGet();
        }

        int total() {
            return deliveries.values().stream().mapToInt(AtomicInteger::get).sum();
        }

        boolean noneTwice() {
            return deliveries.values().stream().allMatch(c -> c.get() == 1);
        }
    }
}
