package io.relay.queue;

import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes cluster-unique queue ids without asking the cluster: 16 upper-case hex digits =
 * 11 digits of milliseconds since the epoch (good until the year 2527), 3 digits of a
 * random per-member tag (chosen once per instance) and 2 digits of a counter that spills
 * into the time part. Ids from one instance are strictly increasing: when more than 256
 * ids are taken in one millisecond the clock part is borrowed from the future, which
 * keeps order and uniqueness. Two members collide only if they draw the same 12-bit tag
 * AND issue ids in the same millisecond slot; the tag is mixed into every id so that
 * risk stays small for clusters of a few dozen members.
 */
public final class QueueIds {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private final int memberTag;
    /** (millis << 8) | counter of the last id issued. */
    private final AtomicLong last = new AtomicLong();

    public QueueIds() {
        this(new SecureRandom().nextInt(1 << 12));
    }

    QueueIds(int memberTag) {
        this.memberTag = memberTag & 0xFFF;
    }

    public QueueId next() {
        long now = System.currentTimeMillis() << 8;
        long value = last.updateAndGet(prev -> Math.max(prev + 1, now));
        long millis = value >>> 8;
        int counter = (int) (value & 0xFF);
        char[] out = new char[16];
        for (int i = 10; i >= 0; i--) {
            out[i] = HEX[(int) (millis & 0xF)];
            millis >>>= 4;
        }
        out[11] = HEX[(memberTag >>> 8) & 0xF];
        out[12] = HEX[(memberTag >>> 4) & 0xF];
        out[13] = HEX[memberTag & 0xF];
        out[14] = HEX[(counter >>> 4) & 0xF];
        out[15] = HEX[counter & 0xF];
        return new QueueId(new String(out));
    }
}
