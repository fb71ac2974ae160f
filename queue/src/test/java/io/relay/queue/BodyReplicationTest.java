package io.relay.queue;

import static io.relay.queue.TestClusters.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.core.DistributedObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bodies on disk, index in the cluster (issue 17): what a 250 promises is on the accepting
 * member's disk and on {@code backup-count} other members' disks, never in a cluster map;
 * a member's loss leaves every message deliverable from the copies, and the queue copies
 * again until each message has two live holders; a finished message's copies are released.
 */
class BodyReplicationTest {
    private final List<ClusterQueue> opened = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void closeAll() {
        for (ClusterQueue q : opened) {
            try {
                q.close();
            } catch (RuntimeException e) {
                // terminated in the test
            }
        }
    }

    private ClusterQueue open(ClusterSettings cluster, String spool) {
        ClusterQueue q = TestClusters.queue(ClusterMember.start(cluster), TestClusters.settings(dir.resolve(spool)));
        opened.add(q);
        return q;
    }

    private static Set<String> acceptAll(ClusterQueue queue, int n) throws Exception {
        Set<String> ids = new HashSet<>();
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            QueuedMessage m = TestClusters.message(queue.newId(), 4096);
            ids.add(m.id().value());
            futures.add(queue.accept(m));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        return ids;
    }

    private static UUID uuid(ClusterQueue q) {
        return q.clusterMemberForTests().hazelcast().getCluster().getLocalMember().getUuid();
    }

    private static long liveHolders(QueueMeta m, Set<UUID> live) {
        return m.holders().stream().filter(live::contains).distinct().count();
    }

    /** Starts two members with the upstream down (every attempt deferred) and waits until they form one safe cluster. */
    private static void startWithUpstreamDown(ClusterQueue a, ClusterQueue b) throws InterruptedException {
        TestClusters.RecordingHandler ha = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler hb = new TestClusters.RecordingHandler();
        ha.deferAll = true;
        hb.deferAll = true;
        a.start(ha);
        b.start(hb);
        await("two members, partitions safe", Duration.ofSeconds(30), () -> a.clusterMemberForTests().clusterSafe()
                && a.clusterMemberForTests().memberCount() == 2);
    }

    @Test
    void everyBodyIsOnTwoDisksAndSurvivesTheLossOfTheMemberThatAcceptedIt() throws Exception {
        String name = TestClusters.clusterName();
        int pa = TestClusters.freePort();
        int pb = TestClusters.freePort();
        int pc = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, pa), "a");
        ClusterQueue b = open(TestClusters.joining(name, pb, pa), "b");
        ClusterQueue c = open(TestClusters.joining(name, pc, pa, pb), "c");
        TestClusters.RecordingHandler ha = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler hb = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler hc = new TestClusters.RecordingHandler();
        Stream.of(ha, hb, hc).forEach(h -> h.deferAll = true); // the upstream is down
        a.start(ha);
        b.start(hb);
        c.start(hc);
        await("three members, partitions safe", Duration.ofSeconds(30), () -> a.clusterMemberForTests().clusterSafe()
                && a.clusterMemberForTests().memberCount() == 3);

        Set<String> ids = acceptAll(a, 60);
        // what each 250 promised: on A's disk, and a copy fsync'd on one other member's disk
        assertEquals(60, a.journal().owedCount());
        assertEquals(60, b.copiesJournal().owedCount() + c.copiesJournal().owedCount());
        assertEquals(0, a.copiesJournal().owedCount());
        for (QueueView.Entry e : a.clusterEntries(null, null)) {
            assertEquals(2, e.meta().holders().size(), e.id() + " " + e.meta().holders());
            assertEquals(uuid(a), e.meta().holders().get(0));
            assertEquals("from@example.com", e.meta().sender());
        }
        // no message body in the cluster's heap: the index is the only queue map
        for (DistributedObject o : a.clusterMemberForTests().hazelcast().getDistributedObjects()) {
            assertFalse(o.getName().equals("relay-messages"), "a map of message bodies exists");
        }
        assertEquals(4096, a.find(ids.iterator().next()).orElseThrow().getValue().size());

        // A crashes: B and C take its partitions over, and copy again until each message has two holders
        a.clusterMemberForTests().terminate();
        a.close();
        Set<UUID> live = Set.of(uuid(b), uuid(c));
        await("every message on two live members' disks again", Duration.ofSeconds(60), () -> {
            List<QueueView.Entry> entries = b.clusterEntries(null, null);
            return entries.size() == 60 && entries.stream().allMatch(e -> liveHolders(e.meta(), live) == 2);
        });
        assertEquals(120, b.journal().owedCount() + b.copiesJournal().owedCount()
                + c.journal().owedCount() + c.copiesJournal().owedCount(), "two copies of each of the 60");

        // the upstream comes back: every message delivered once, from the survivors' disks
        hb.deferAll = false;
        hc.deferAll = false;
        await("all 60 delivered", Duration.ofSeconds(60), () -> hb.total() + hc.total() == 60);
        Set<String> delivered = new HashSet<>(hb.deliveries.keySet());
        delivered.addAll(hc.deliveries.keySet());
        assertEquals(ids, delivered);
        assertTrue(hb.noneTwice() && hc.noneTwice());
        assertTrue(hb.deliveries.keySet().stream().noneMatch(hc.deliveries::containsKey), "delivered twice");
        // and the finished messages' copies are released on both disks
        await("copies released", Duration.ofSeconds(30), () -> b.journal().owedCount() + b.copiesJournal().owedCount()
                + c.journal().owedCount() + c.copiesJournal().owedCount() == 0);
    }

    @Test
    void theCopiesOfConcurrentAcceptsTravelTogetherAndEachIsKept() throws Exception {
        String name = TestClusters.clusterName();
        int pa = TestClusters.freePort();
        int pb = TestClusters.freePort();
        List<Integer> batches = java.util.Collections.synchronizedList(new ArrayList<>());
        QueueEvents counting = new QueueEvents() {
            @Override
            public void copyBatch(int messages) {
                batches.add(messages);
            }
        };
        ClusterQueue a = TestClusters.queue(ClusterMember.start(TestClusters.alone(name, pa)),
                TestClusters.settings(dir.resolve("a")), counting);
        opened.add(a);
        ClusterQueue b = open(TestClusters.joining(name, pb, pa), "b");
        startWithUpstreamDown(a, b);

        // one accept first: the first copy operation also sets up the executor on both members
        acceptAll(a, 1);
        batches.clear();
        // 200 accepts at once, as 200 sessions finishing DATA together
        acceptAll(a, 200);
        assertEquals(201, b.copiesJournal().owedCount(), "every 250 has its copy fsync'd on B");
        List<String> oneHolder = a.clusterEntries(null, null).stream()
                .filter(e -> !e.meta().holders().equals(List.of(uuid(a), uuid(b)))).map(e -> e.id().value()).toList();
        assertEquals(List.of(), oneHolder, "index entries not listing both holders; batches " + batches);
        int copies = batches.stream().mapToInt(Integer::intValue).sum();
        assertEquals(200, copies, "copies sent " + batches);
        // without batching there would be 200 operations; the first go alone, the rest wait and go together
        assertTrue(batches.size() <= 20, batches.size() + " copy operations for 200 copies: " + batches);

        // a lone accept is not held back waiting for company
        batches.clear();
        acceptAll(a, 1);
        assertEquals(List.of(1), batches);
        assertEquals(202, b.copiesJournal().owedCount());
    }

    @Test
    void aCopyAloneBringsTheMessageBackAfterTheWholeClusterRestartsWithoutTheAcceptingDisk() throws Exception {
        String name = TestClusters.clusterName();
        int pa = TestClusters.freePort();
        int pb = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, pa), "a");
        ClusterQueue b = open(TestClusters.joining(name, pb, pa), "b");
        startWithUpstreamDown(a, b);
        Set<String> ids = acceptAll(a, 20);
        assertEquals(20, b.copiesJournal().owedCount());
        a.clusterMemberForTests().terminate();
        b.clusterMemberForTests().terminate();
        a.close();
        b.close();
        // A's disk is gone for good; B comes back alone, as a new cluster
        try (Stream<Path> files = Files.walk(dir.resolve("a"))) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        ClusterQueue b2 = open(TestClusters.alone(name, TestClusters.freePort()), "b");
        TestClusters.RecordingHandler hb2 = new TestClusters.RecordingHandler();
        b2.start(hb2);
        b2.replayed().get(30, TimeUnit.SECONDS);
        await("all 20 delivered from the copies", Duration.ofSeconds(30), () -> hb2.total() == 20);
        assertEquals(ids, hb2.deliveries.keySet());
        assertTrue(hb2.noneTwice());
        await("copies released", Duration.ofSeconds(30), () -> b2.copiesJournal().owedCount() == 0);
    }

    /**
     * Streaming DATA's queue side (issue 17, item 2): a large message's content is a file on
     * the accepting member's disk, and its copy a file on another member's, sent in parts of
     * {@link BodyStore#PART_BYTES}; a member holding neither fetches it in parts onto its own
     * disk; the delivery reads it from the file; when it is finished every file is removed.
     */
    @Test
    void aLargeBodyTravelsInPartsAndIsAFileOnEachDiskUntilDelivered() throws Exception {
        String name = TestClusters.clusterName();
        int pa = TestClusters.freePort();
        int pb = TestClusters.freePort();
        int pc = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, pa), "a");
        ClusterQueue b = open(TestClusters.joining(name, pb, pa), "b");
        ClusterQueue c = open(TestClusters.joining(name, pc, pa, pb), "c");
        List<DigestingHandler> handlers = List.of(new DigestingHandler(), new DigestingHandler(), new DigestingHandler());
        a.start(handlers.get(0));
        b.start(handlers.get(1));
        c.start(handlers.get(2));
        await("three members, partitions safe", Duration.ofSeconds(30), () -> a.clusterMemberForTests().clusterSafe()
                && a.clusterMemberForTests().memberCount() == 3);

        QueueId id = a.newId();
        Path incoming = a.incomingBody(id);
        byte[] content = new byte[3 * BodyStore.PART_BYTES + 12_345]; // not a whole number of parts
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n' : 'a' + i % 23);
        }
        Files.write(incoming, content);
        byte[] prefix = "Received: by test\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        QueuedMessage m = new QueuedMessage(id, TestClusters.message(id, 10).envelope(),
                new MessageBody.OnDisk(prefix, incoming, content.length));
        a.accept(m).get(30, TimeUnit.SECONDS);
        byte[] whole = new byte[prefix.length + content.length];
        System.arraycopy(prefix, 0, whole, 0, prefix.length);
        System.arraycopy(content, 0, whole, prefix.length, content.length);
        String expected = sha256(whole);

        assertFalse(Files.exists(incoming), "moved out of incoming");
        Path onA = dir.resolve("a/bodies").resolve(id.value());
        assertEquals(content.length, Files.size(onA), "the accepting member's file");
        Path onB = dir.resolve("b/copies/bodies").resolve(id.value());
        Path onC = dir.resolve("c/copies/bodies").resolve(id.value());
        assertTrue(Files.exists(onB) ^ Files.exists(onC), "one copy, on B or C");
        boolean holderIsB = Files.exists(onB);
        ClusterQueue other = holderIsB ? c : b;
        Path holderFile = holderIsB ? onB : onC;
        Path otherFile = holderIsB ? onC : onB;
        assertArrayEquals(content, Files.readAllBytes(holderFile), "the copy, byte for byte");

        // a member that holds nothing gets it in parts, onto its own disk
        QueueMeta meta = BinaryCodec.decodeMeta(a.clusterMemberForTests().hazelcast()
                .<String, byte[]>getMap(ClusterMember.META_MAP).get(id.value()));
        QueuedMessage fetched = other.bodiesForTests().find(id.value(), meta.holders()).orElseThrow();
        assertEquals(expected, sha256(fetched.body()));
        assertArrayEquals(content, Files.readAllBytes(otherFile));
        // an operator's view of it anywhere shows its headers without copying it
        assertTrue(new String(a.find(id.value()).orElseThrow().getValue().body().head(64),
                java.nio.charset.StandardCharsets.US_ASCII).startsWith("Received: by test"));

        handlers.forEach(h -> h.deferAll = false);
        await("delivered", Duration.ofSeconds(60), () -> handlers.stream().mapToInt(h -> h.digests.size()).sum() == 1);
        for (DigestingHandler h : handlers) {
            h.digests.values().forEach(d -> assertEquals(expected, d, "delivered byte for byte from the file"));
        }
        await("the accepting member's file and the copy removed", Duration.ofSeconds(30),
                () -> !Files.exists(onA) && !Files.exists(holderFile));
        DigestingHandler otherHandler = handlers.get(other == b ? 1 : 2);
        if (!otherHandler.digests.isEmpty()) { // the member that fetched it delivered it: its own copy goes too
            await("the fetched copy removed", Duration.ofSeconds(30), () -> !Files.exists(otherFile));
        }
    }

    /** Defers until told otherwise, then delivers, reading each body through its stream and keeping its SHA-256. */
    private static final class DigestingHandler implements DeliveryHandler {
        final java.util.Map<String, String> digests = new java.util.concurrent.ConcurrentHashMap<>();
        volatile boolean deferAll = true;

        @Override
        public List<RecipientOutcome> deliver(DeliveryAttempt attempt) {
            if (deferAll) {
                return attempt.recipients().stream()
                        .<RecipientOutcome>map(r -> new RecipientOutcome.Deferred(r, "451 4.3.0 try later")).toList();
            }
            try {
                digests.put(attempt.message().id().value(), sha256(attempt.message().body()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return attempt.recipients().stream().<RecipientOutcome>map(RecipientOutcome.Delivered::new).toList();
        }

        @Override
        public void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes) {
        }
    }

    private static String sha256(MessageBody body) throws Exception {
        java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
        try (java.io.InputStream in = body.open()) {
            byte[] buf = new byte[65_536];
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    private static String sha256(byte[] b) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
    }
}
