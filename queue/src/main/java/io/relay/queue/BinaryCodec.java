package io.relay.queue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The compact binary forms the queue stores, in the cluster maps and in the spool
 * journal: messages (envelope + content) and their delivery state. Versioned by a
 * leading byte so a rolling upgrade can read the older form. Strings are an int length
 * and UTF-8 bytes (addresses may be SMTPUTF8). No Java serialization anywhere.
 */
final class BinaryCodec {
    private static final byte MESSAGE_V1 = 1;
    /** As V1, but the content is a file beside the journal: the file's length, then the prefix in the heap. */
    private static final byte MESSAGE_ON_DISK = 2;
    private static final byte META_V1 = 1;

    private BinaryCodec() {
    }

    static byte[] encodeMessage(QueuedMessage message) {
        Envelope e = message.envelope();
        byte[][] strings = new byte[6 + e.recipients().size()][];
        strings[0] = utf8(message.id().value());
        strings[1] = utf8(e.sender());
        strings[2] = utf8(e.clientName());
        strings[3] = utf8(e.clientAddress());
        strings[4] = utf8(e.heloName());
        strings[5] = utf8(e.protocol());
        for (int i = 0; i < e.recipients().size(); i++) {
            strings[6 + i] = utf8(e.recipients().get(i));
        }
        MessageBody.OnDisk onDisk = message.body() instanceof MessageBody.OnDisk d ? d : null;
        byte[] inline = onDisk != null ? onDisk.prefix() : message.content();
        int size = 1 + 1 + 8 + 4 + 4 + inline.length + (onDisk != null ? 8 : 0);
        for (byte[] s : strings) {
            size += 4 + s.length;
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put(onDisk != null ? MESSAGE_ON_DISK : MESSAGE_V1);
        out.put((byte) ((e.smtpUtf8() ? 1 : 0) | (e.eightBitMime() ? 2 : 0)));
        out.putLong(e.arrivalMillis());
        for (int i = 0; i < 6; i++) {
            putBytes(out, strings[i]);
        }
        out.putInt(e.recipients().size());
        for (int i = 6; i < strings.length; i++) {
            putBytes(out, strings[i]);
        }
        if (onDisk != null) {
            out.putLong(onDisk.fileLength());
        }
        putBytes(out, inline);
        return out.array();
    }

    /** Whether an encoded message keeps its content in a file beside the journal. */
    static boolean onDisk(byte[] encoded) {
        return encoded.length > 0 && encoded[0] == MESSAGE_ON_DISK;
    }

    /**
     * The message; a content on disk comes back as an {@link MessageBody.OnDisk} without its
     * file (the journal's owner knows where it is).
     */
    static QueuedMessage decodeMessage(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        byte version = in.get();
        if (version != MESSAGE_V1 && version != MESSAGE_ON_DISK) {
            throw new IllegalArgumentException("unknown message format version " + version);
        }
        int flags = in.get();
        long arrival = in.getLong();
        String id = getString(in);
        String sender = getString(in);
        String clientName = getString(in);
        String clientAddress = getString(in);
        String helo = getString(in);
        String protocol = getString(in);
        int count = in.getInt();
        List<String> recipients = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            recipients.add(getString(in));
        }
        long fileLength = version == MESSAGE_ON_DISK ? in.getLong() : -1;
        byte[] content = getBytes(in);
        Envelope envelope = new Envelope(sender, recipients, clientName, clientAddress, helo, protocol,
                (flags & 1) != 0, (flags & 2) != 0, arrival);
        MessageBody body = fileLength >= 0 ? new MessageBody.OnDisk(content, null, fileLength)
                : new MessageBody.InMemory(content);
        return new QueuedMessage(new QueueId(id), envelope, body);
    }

    static byte[] encodeMeta(QueueMeta meta) {
        byte[] reason = utf8(meta.lastReason());
        List<byte[]> pending = new ArrayList<>(meta.pending().size());
        List<byte[]> hops = new ArrayList<>(meta.nextHops().size());
        byte[] sender = utf8(meta.sender());
        int size = 1 + 4 + 8 + 8 + 8 + 4 + reason.length + 4 + 1 + 4 + 4 + sender.length + 4 + 16 * meta.holders().size();
        for (String r : meta.pending()) {
            byte[] b = utf8(r);
            pending.add(b);
            size += 4 + b.length;
        }
        for (String h : meta.nextHops()) {
            byte[] b = utf8(h);
            hops.add(b);
            size += 4 + b.length;
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put(META_V1);
        out.putInt(meta.attempts());
        out.putLong(meta.nextAttemptMillis());
        out.putLong(meta.arrivalMillis());
        out.putLong(meta.size());
        putBytes(out, reason);
        out.putInt(pending.size());
        pending.forEach(b -> putBytes(out, b));
        // appended after the first release: a reader of the older form ignores it, and an
        // entry written by an older node (no flags byte) reads as not held
        out.put((byte) ((meta.held() ? 1 : 0) | (meta.restored() ? 2 : 0)));
        // appended in the same way after the flags: the next hops, absent (empty) in older entries
        out.putInt(hops.size());
        hops.forEach(b -> putBytes(out, b));
        // appended in the same way: the sender and the members holding the body (16 bytes each)
        putBytes(out, sender);
        out.putInt(meta.holders().size());
        for (java.util.UUID h : meta.holders()) {
            out.putLong(h.getMostSignificantBits());
            out.putLong(h.getLeastSignificantBits());
        }
        return out.array();
    }

    static QueueMeta decodeMeta(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        byte version = in.get();
        if (version != META_V1) {
            throw new IllegalArgumentException("unknown meta format version " + version);
        }
        int attempts = in.getInt();
        long next = in.getLong();
        long arrival = in.getLong();
        long size = in.getLong();
        String reason = getString(in);
        int count = in.getInt();
        List<String> pending = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            pending.add(getString(in));
        }
        int flags = in.hasRemaining() ? in.get() : 0;
        boolean held = (flags & 1) != 0;
        boolean restored = (flags & 2) != 0;
        List<String> hops = new ArrayList<>();
        if (in.remaining() >= 4) {
            int n = in.getInt();
            for (int i = 0; i < n; i++) {
                hops.add(getString(in));
            }
        }
        String sender = "";
        List<java.util.UUID> holders = new ArrayList<>();
        if (in.remaining() >= 4) {
            sender = getString(in);
            int n = in.getInt();
            for (int i = 0; i < n; i++) {
                holders.add(new java.util.UUID(in.getLong(), in.getLong()));
            }
        }
        return new QueueMeta(pending, attempts, next, arrival, reason, size, held, hops, sender, holders, restored);
    }

    /**
     * The envelope's sender, recipients and arrival and the content's size from the start of
     * an encoded message (the content itself need not be there: a replay reads heads only).
     */
    static SpoolJournal.Head decodeHead(ByteBuffer in) {
        byte version = in.get();
        if (version != MESSAGE_V1 && version != MESSAGE_ON_DISK) {
            throw new IllegalArgumentException("unknown message format version " + version);
        }
        in.get();
        long arrival = in.getLong();
        getBytes(in); // id
        String sender = getString(in);
        for (int i = 0; i < 4; i++) {
            getBytes(in); // client name and address, HELO name, protocol
        }
        int count = in.getInt();
        List<String> recipients = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            recipients.add(getString(in));
        }
        long fileLength = version == MESSAGE_ON_DISK ? in.getLong() : 0;
        long size = in.getInt() + fileLength;
        return new SpoolJournal.Head(sender, recipients, arrival, size);
    }

    static byte[] utf8(String s) {
        return s == null ? new byte[0] : s.getBytes(StandardCharsets.UTF_8);
    }

    static void putBytes(ByteBuffer out, byte[] b) {
        out.putInt(b.length);
        out.put(b);
    }

    static String getString(ByteBuffer in) {
        return new String(getBytes(in), StandardCharsets.UTF_8);
    }

    static byte[] getBytes(ByteBuffer in) {
        int n = in.getInt();
        if (n < 0 || n > in.remaining()) {
            throw new IllegalArgumentException("bad length " + n);
        }
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }
}
