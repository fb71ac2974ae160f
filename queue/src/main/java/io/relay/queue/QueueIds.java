package io.relay.queue;

import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes cluster-unique queue ids without asking the cluster: 20 upper-case hex digits =
 * 11 digits of milliseconds since the epoch (good until the year 2527), 7 digits of a
 * random per-instance tag (28 bits, drawn once) and 2 digits of a counter that spills into
 * the time part. Ids from one instance are strictly increasing: when more than 256 ids are
 * taken in one millisecond the clock part is borrowed from the future, which keeps order
 * and uniqueness. Two instances can only collide if they draw the same tag: for 20
 * members about 190 / 2^28 (under one in a million) per restart of them all. A 3-digit
 * tag (16-digit ids) would make that one in twenty, which is why the ids are this long.
 */
public final class QueueIds {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private final int memberTag;
    /** (millis << 8) | counter of the last id issued. */
    private final AtomicLong last = new AtomicLong();

    public QueueIds() {
        this(new SecureRandom().nextInt(1 << 28));
    }

    QueueIds(int memberTag) {
        this.memberTag = memberTag & 0xFFFFFFF;
    }

    public QueueId next() {
        long now = System.currentTimeMillis() << 8;
        long value = last.updateAndGet(prev -> Math.max(prev + 1, now));
        long millis = value >>> 8;
        int counter = (int) (value & 0xFF);
        char[] out = new char[20];
        for (int i = 10; i >= 0; i--) {
            out[i] = HEX[(int) (millis & 0xF)];
            millis >>>= 4;
        }
        int tag = memberTag;
        for (int i = 17; i >= 11; i--) {
            out[i] = HEX[tag & 0xF];
            tag >>>= 4;
        }
        out[18] = HEX[(counter >>> 4) & 0xF];
        out[19] = HEX[counter & 0xF];
        return new QueueId(new String(out));
    }
}
