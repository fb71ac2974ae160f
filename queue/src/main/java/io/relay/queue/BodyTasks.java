package io.relay.queue;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import java.io.IOException;
import java.util.concurrent.Callable;

/**
 * The member-to-member operations that move message bodies, run on the target member's
 * {@value BodyStore#EXECUTOR} executor, which finds that member's {@link BodyStore} in the
 * Hazelcast user context: {@link Copy} (keep a durable copy; small ones in a {@link CopyBatch}), {@link Fetch} (answer a body
 * this member holds) and {@link Release} (drop the copies of finished messages); a large
 * body ({@link BodyFiles}) travels in parts before its Copy ({@link CopyPart}) or after its
 * Fetch ({@link FetchPart}), {@value BodyStore#PART_BYTES} bytes each. Written
 * field by field ({@link DataSerializable}): a body crosses the wire as its bytes, no Java
 * serialization.
 */
final class BodyTasks {
    private BodyTasks() {
    }

    private abstract static class OnStore<T> implements Callable<T>, DataSerializable, HazelcastInstanceAware {
        private transient HazelcastInstance hazelcast;

        @Override
        public void setHazelcastInstance(HazelcastInstance instance) {
            this.hazelcast = instance;
        }

        BodyStore store() {
            Object store = hazelcast.getUserContext().get(BodyStore.CONTEXT_KEY);
            if (!(store instanceof BodyStore s)) {
                throw new IllegalStateException("no queue on member " + hazelcast.getName());
            }
            return s;
        }
    }

    /** Keeps a copy of a message accepted on another member; answers once it is fsync'd here. */
    public static final class Copy extends OnStore<Boolean> {
        private String id;
        private String epoch;
        private byte[] encoded;

        public Copy() {
        }

        Copy(String id, String epoch, byte[] encoded) {
            this.id = id;
            this.epoch = epoch;
            this.encoded = encoded;
        }

        @Override
        public Boolean call() {
            store().keepCopy(id, epoch, encoded);
            return Boolean.TRUE;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeString(id);
            out.writeString(epoch);
            out.writeByteArray(encoded);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            id = in.readString();
            epoch = in.readString();
            encoded = in.readByteArray();
        }
    }

    /**
     * Copies of several small messages accepted on another member ({@link CopyBatches}):
     * answers, per message, whether it is fsync'd here (one group commit for the batch).
     */
    public static final class CopyBatch extends OnStore<boolean[]> {
        private String epoch;
        private String[] ids;
        private byte[][] encoded;

        public CopyBatch() {
        }

        CopyBatch(String epoch, String[] ids, byte[][] encoded) {
            this.epoch = epoch;
            this.ids = ids;
            this.encoded = encoded;
        }

        @Override
        public boolean[] call() {
            return store().keepCopies(ids, epoch, encoded);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeString(epoch);
            out.writeInt(ids.length);
            for (int i = 0; i < ids.length; i++) {
                out.writeString(ids[i]);
                out.writeByteArray(encoded[i]);
            }
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            epoch = in.readString();
            int n = in.readInt();
            ids = new String[n];
            encoded = new byte[n][];
            for (int i = 0; i < n; i++) {
                ids[i] = in.readString();
                encoded[i] = in.readByteArray();
            }
        }
    }

    /** A body this member holds (accepted here or a copy), encoded; null when it holds none. */
    public static final class Fetch extends OnStore<byte[]> {
        private String id;

        public Fetch() {
        }

        Fetch(String id) {
            this.id = id;
        }

        @Override
        public byte[] call() {
            return store().localEncoded(id).orElse(null);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeString(id);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            id = in.readString();
        }
    }

    /** One part of a large body, written to the target's incoming file before the {@link Copy} that settles it. */
    public static final class CopyPart extends OnStore<Boolean> {
        private String id;
        private long offset;
        private byte[] part;

        public CopyPart() {
        }

        CopyPart(String id, long offset, byte[] part) {
            this.id = id;
            this.offset = offset;
            this.part = part;
        }

        @Override
        public Boolean call() {
            store().keepPart(id, offset, part);
            return Boolean.TRUE;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeString(id);
            out.writeLong(offset);
            out.writeByteArray(part);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            id = in.readString();
            offset = in.readLong();
            part = in.readByteArray();
        }
    }

    /** Up to {@code max} bytes of a large body this member holds, from {@code offset}; null when it holds none. */
    public static final class FetchPart extends OnStore<byte[]> {
        private String id;
        private long offset;
        private int max;

        public FetchPart() {
        }

        FetchPart(String id, long offset, int max) {
            this.id = id;
            this.offset = offset;
            this.max = max;
        }

        @Override
        public byte[] call() {
            return store().localPart(id, offset, max);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeString(id);
            out.writeLong(offset);
            out.writeInt(max);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            id = in.readString();
            offset = in.readLong();
            max = in.readInt();
        }
    }

    /** These messages are finished: this member's disk need not keep them (DONE records, no fsync). */
    public static final class Release extends OnStore<Integer> {
        private String[] ids;

        public Release() {
        }

        Release(String[] ids) {
            this.ids = ids;
        }

        @Override
        public Integer call() {
            return store().releaseLocally(ids);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeStringArray(ids);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            ids = in.readStringArray();
        }
    }
}
