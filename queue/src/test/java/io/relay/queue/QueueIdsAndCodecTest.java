package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class QueueIdsAndCodecTest {

    @Test
    void idsAreTwentyUpperHexStrictlyIncreasingAndUniqueUnderContention() throws Exception {
        QueueIds ids = new QueueIds(0xABCDEF1);
        String previous = "";
        for (int i = 0; i < 10_000; i++) {
            String id = ids.next().value();
            assertTrue(id.matches("[0-9A-F]{20}"), id);
            assertTrue(id.compareTo(previous) > 0, previous + " then " + id);
            assertEquals("ABCDEF1", id.substring(11, 18));
            previous = id;
        }
        Set<String> seen = ConcurrentHashMap.newKeySet();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Thread th = new Thread(() -> {
                for (int i = 0; i < 20_000; i++) {
                    seen.add(ids.next().value());
                }
            });
            th.start();
            threads.add(th);
        }
        for (Thread th : threads) {
            th.join(30_000);
        }
        assertEquals(160_000, seen.size());
        // The time part is real time: ids sort by acceptance time across restarts.
        long millis = Long.parseLong(new QueueIds().next().value().substring(0, 11), 16);
        assertTrue(Math.abs(System.currentTimeMillis() - millis) < 60_000);
    }

    @Test
    void messageAndMetaRoundTripIncludingUtf8() {
        QueuedMessage m = new QueuedMessage(new QueueId("0123456789ABCDEF"),
                new Envelope("", List.of("jöran@exämple.test", "b@x.test"), "unknown", "::1", "höst", "ESMTPSA",
                        true, true, 1234567L),
                "Subject: x\r\n\r\nbody\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        QueuedMessage back = BinaryCodec.decodeMessage(BinaryCodec.encodeMessage(m));
        assertEquals(m.id(), back.id());
        assertEquals(m.envelope(), back.envelope());
        assertArrayEquals(m.content(), back.content());
        QueueMeta meta = new QueueMeta(List.of("b@x.test"), 3, 99L, 1234567L, "451 4.7.1 later", 22, false, List.of());
        assertEquals(meta, BinaryCodec.decodeMeta(BinaryCodec.encodeMeta(meta)));
        assertEquals("", BinaryCodec.decodeHead(java.nio.ByteBuffer.wrap(BinaryCodec.encodeMessage(m))).sender());
    }

    /** A large message's record holds its envelope, our headers and its file's length; the head reads its whole size. */
    @Test
    void aMessageOnDiskRoundTripsWithoutItsFile() {
        byte[] prefix = "Received: from x\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        QueuedMessage m = new QueuedMessage(new QueueId("0123456789ABCDEF"),
                new Envelope("s@x.test", List.of("b@x.test"), "unknown", "::1", "h", "ESMTP", false, true, 7L),
                new MessageBody.OnDisk(prefix, java.nio.file.Path.of("/spool/bodies/0123456789ABCDEF"), 40_000_000L));
        byte[] encoded = BinaryCodec.encodeMessage(m);
        assertTrue(BinaryCodec.onDisk(encoded));
        assertTrue(encoded.length < 200, "no content in the record: " + encoded.length);
        QueuedMessage back = BinaryCodec.decodeMessage(encoded);
        assertEquals(m.envelope(), back.envelope());
        MessageBody.OnDisk body = (MessageBody.OnDisk) back.body();
        assertArrayEquals(prefix, body.prefix());
        assertEquals(40_000_000L, body.fileLength());
        assertEquals(null, body.file(), "where the file is, is the reading node's business");
        assertEquals(prefix.length + 40_000_000L, back.size());
        assertEquals(prefix.length + 40_000_000L, BinaryCodec.decodeHead(
                java.nio.ByteBuffer.wrap(encoded)).size());
        assertEquals("s@x.test", BinaryCodec.decodeHead(java.nio.ByteBuffer.wrap(encoded)).sender());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, back::content,
                "a body on disk is never loaded whole by content()");
        assertFalse(BinaryCodec.onDisk(BinaryCodec.encodeMessage(new QueuedMessage(m.id(), m.envelope(), prefix))));
    }

    @Test
    void senderAndHoldersRoundTripAndEntriesWithoutThemReadAsUnknown() {
        java.util.UUID a = java.util.UUID.randomUUID();
        java.util.UUID b = java.util.UUID.randomUUID();
        QueueMeta full = new QueueMeta(List.of("b@x.test"), 1, 99L, 1234567L, "", 22, false, List.of("x.test"),
                "s\u00e9nder@x.test", List.of(a, b));
        assertEquals(full, BinaryCodec.decodeMeta(BinaryCodec.encodeMeta(full)));
        byte[] current = BinaryCodec.encodeMeta(full);
        // written by a node before bodies moved to disk: no sender, no holders
        byte[] older = java.util.Arrays.copyOf(current, current.length - (4 + "s\u00e9nder@x.test".getBytes(
                java.nio.charset.StandardCharsets.UTF_8).length + 4 + 32));
        QueueMeta read = BinaryCodec.decodeMeta(older);
        assertEquals("", read.sender());
        assertEquals(List.of(), read.holders());
        assertEquals(List.of("x.test"), read.nextHops());
    }

    @Test
    void heldFlagRoundTripsAndTheOlderFormWithoutItReadsAsNotHeld() {
        QueueMeta held = new QueueMeta(List.of("b@x.test"), 1, 99L, 1234567L, "451 later", 22, true);
        assertEquals(held, BinaryCodec.decodeMeta(BinaryCodec.encodeMeta(held)));
        byte[] current = BinaryCodec.encodeMeta(held.withHeld(false));
        // the form written before the flag existed: the same bytes without the flag and what
        // came after it (next hops count, sender, holders count: 1 + 4 + 4 + 4 bytes here)
        byte[] older = java.util.Arrays.copyOf(current, current.length - 13);
        QueueMeta read = BinaryCodec.decodeMeta(older);
        assertEquals(held.withHeld(false), read);
        assertEquals(false, read.held());
    }

    @Test
    void backoffDoublesFromMinimalAndStopsAtMaximal() {
        QueueSettings s = new QueueSettings(java.nio.file.Path.of("x"), Duration.ofSeconds(300),
                Duration.ofSeconds(4000), Duration.ofDays(5), 1, 1, 1);
        assertEquals(List.of(300_000L, 600_000L, 1_200_000L, 2_400_000L, 4_000_000L, 4_000_000L),
                List.of(s.backoffMillis(1), s.backoffMillis(2), s.backoffMillis(3), s.backoffMillis(4),
                        s.backoffMillis(5), s.backoffMillis(50)));
    }
}
