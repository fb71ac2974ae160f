package io.relay.queue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The spool's file format, as {@link SpoolJournal} writes it and reads it back: a segment
 * is an 8-byte magic followed by frames {@code [int length][int CRC32C of body][body]};
 * a body is a record, ACCEPT(id, cluster epoch, encoded message), DONE(id), DEFER(id,
 * attempts, next attempt, pending recipients), HOLD(id, held) or REEPOCH(id, epoch).
 * Static and stateless: the journal's writer thread builds frames here (one buffer each,
 * sealed with its length and CRC right before it is queued), and the readers of owed
 * entries (a delivery, a replay's heads) read one frame at an offset. {@link SpoolScan}
 * reads whole segments on its own, buffered.
 */
final class SpoolRecords {
    static final byte[] MAGIC = "RLYSPL01".getBytes(StandardCharsets.US_ASCII);
    static final int MAX_BODY = 512 * 1024 * 1024;
    static final byte ACCEPT = 1;
    static final byte DONE = 2;
    static final byte DEFER = 3;
    static final byte HOLD = 4;
    static final byte REEPOCH = 5;
    private static final int HEAD_BYTES = 16 * 1024;

    private SpoolRecords() {
    }

    // ---- building frames (not sealed yet: see seal) ----

    static ByteBuffer accept(byte[] id, byte[] epoch, byte[] message) {
        ByteBuffer frame = frame(1 + 4 + id.length + 4 + epoch.length + 4 + message.length);
        frame.put(ACCEPT);
        BinaryCodec.putBytes(frame, id);
        BinaryCodec.putBytes(frame, epoch);
        BinaryCodec.putBytes(frame, message);
        return frame;
    }

    static ByteBuffer reepoch(byte[] id, byte[] epoch) {
        ByteBuffer frame = frame(1 + 4 + id.length + 4 + epoch.length);
        frame.put(REEPOCH);
        BinaryCodec.putBytes(frame, id);
        BinaryCodec.putBytes(frame, epoch);
        return frame;
    }

    static ByteBuffer done(byte[] id) {
        ByteBuffer frame = frame(1 + 4 + id.length);
        frame.put(DONE);
        BinaryCodec.putBytes(frame, id);
        return frame;
    }

    static ByteBuffer deferred(byte[] id, int attempts, long nextAttemptMillis, List<String> pending) {
        List<byte[]> rcpts = new ArrayList<>();
        int size = 1 + 4 + id.length + 4 + 8 + 4;
        for (String r : pending) {
            byte[] rb = BinaryCodec.utf8(r);
            rcpts.add(rb);
            size += 4 + rb.length;
        }
        ByteBuffer frame = frame(size);
        frame.put(DEFER);
        BinaryCodec.putBytes(frame, id);
        frame.putInt(attempts);
        frame.putLong(nextAttemptMillis);
        frame.putInt(rcpts.size());
        rcpts.forEach(r -> BinaryCodec.putBytes(frame, r));
        return frame;
    }

    static ByteBuffer held(byte[] id, boolean isHeld) {
        ByteBuffer frame = frame(1 + 4 + id.length + 1);
        frame.put(HOLD);
        BinaryCodec.putBytes(frame, id);
        frame.put((byte) (isHeld ? 1 : 0));
        return frame;
    }

    /** A frame with the same body as one read back ({@link #readBody}): a copy forward. */
    static ByteBuffer copy(ByteBuffer body) {
        ByteBuffer frame = frame(body.remaining());
        frame.put(body);
        return frame;
    }

    private static ByteBuffer frame(int bodyLength) {
        ByteBuffer frame = ByteBuffer.allocate(8 + bodyLength);
        frame.position(8);
        return frame;
    }

    /** Fills in the length and CRC of a frame whose body ends at its position; ready to write. */
    static ByteBuffer seal(ByteBuffer frame) {
        int bodyLength = frame.position() - 8;
        CRC32C crc = new CRC32C();
        crc.update(frame.array(), 8, bodyLength);
        frame.putInt(0, bodyLength);
        frame.putInt(4, (int) crc.getValue());
        frame.flip();
        return frame;
    }

    // ---- reading frames back ----

    /** Reads an owed entry's message back from its segment. */
    static QueuedMessage read(SpoolJournal.OwedEntry entry) throws IOException {
        try (FileChannel ch = FileChannel.open(entry.segment(), StandardOpenOption.READ)) {
            ByteBuffer body = readBody(ch, entry.offset(), ch.size());
            if (body == null || body.get() != ACCEPT) {
                throw new IOException("no ACCEPT record at " + entry.segment() + " offset " + entry.offset());
            }
            BinaryCodec.getString(body);
            BinaryCodec.getString(body);
            return BinaryCodec.decodeMessage(BinaryCodec.getBytes(body));
        }
    }

    /** {@link SpoolJournal#readHead} for a run of entries: keeps each segment it read open until closed. */
    public static final class HeadReader implements AutoCloseable {
        private final Map<Path, FileChannel> open = new java.util.HashMap<>();

        HeadReader() {
        }

        public SpoolJournal.Head read(SpoolJournal.OwedEntry entry) throws IOException {
            FileChannel ch = open.get(entry.segment());
            if (ch == null) {
                ch = FileChannel.open(entry.segment(), StandardOpenOption.READ);
                open.put(entry.segment(), ch);
            }
            ByteBuffer header = ByteBuffer.allocate(8);
            readFully(ch, header, entry.offset());
            header.flip();
            int length = header.getInt();
            if (length <= 0 || length > MAX_BODY) {
                throw new IOException("no record at " + entry.segment() + " offset " + entry.offset());
            }
            ByteBuffer body = ByteBuffer.allocate(Math.min(length, HEAD_BYTES));
            readFully(ch, body, entry.offset() + 8);
            body.flip();
            try {
                if (body.get() != ACCEPT) {
                    throw new IOException("no ACCEPT record at " + entry.segment() + " offset " + entry.offset());
                }
                BinaryCodec.getString(body);
                BinaryCodec.getString(body);
                body.getInt(); // the encoded message's length
                return BinaryCodec.decodeHead(body);
            } catch (java.nio.BufferUnderflowException | IllegalArgumentException e) {
                // a head longer than HEAD_BYTES (thousands of recipients): read the whole record
                QueuedMessage m = SpoolRecords.read(entry);
                return new SpoolJournal.Head(m.envelope().sender(), m.envelope().recipients(),
                        m.envelope().arrivalMillis(), m.size());
            }
        }

        @Override
        public void close() {
            for (FileChannel ch : open.values()) {
                try {
                    ch.close();
                } catch (IOException e) {
                    // read-only: nothing to lose
                }
            }
            open.clear();
        }
    }

    /** The body of the frame at {@code pos}, or null when it is torn, oversized or fails its CRC. */
    static ByteBuffer readBody(FileChannel ch, long pos, long size) throws IOException {
        if (size - pos < 8) {
            return null;
        }
        ByteBuffer header = ByteBuffer.allocate(8);
        readFully(ch, header, pos);
        header.flip();
        int length = header.getInt();
        int crc = header.getInt();
        if (length <= 0 || length > MAX_BODY || pos + 8 + length > size) {
            return null;
        }
        ByteBuffer body = ByteBuffer.allocate(length);
        readFully(ch, body, pos + 8);
        if (body.hasRemaining()) {
            return null;
        }
        CRC32C check = new CRC32C();
        check.update(body.array(), 0, length);
        if ((int) check.getValue() != crc) {
            return null;
        }
        body.flip();
        return body;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                return;
            }
        }
    }
}
