package io.relay.queue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Objects;

/**
 * A queued message's content (CRLF lines, not dot-stuffed): in the heap for ordinary mail,
 * or on this node's disk for mail larger than the SMTP server keeps in memory
 * ({@link OnDisk}: streamed to a file as it arrived, never whole in the heap). Readers that
 * may meet either kind go through {@link #open} and {@link #head}; only code that made the
 * message itself may assume {@link InMemory}.
 */
public sealed interface MessageBody {

    /** Bytes of content. */
    long length();

    /** The whole content, as a stream (a file's is read as it goes). */
    InputStream open() throws IOException;

    /** Up to {@code max} bytes from the start of the content: the header section, for DSNs and operator views. */
    byte[] head(int max) throws IOException;

    /** Content held in the heap. */
    record InMemory(byte[] bytes) implements MessageBody {
        public InMemory {
            Objects.requireNonNull(bytes, "bytes");
        }

        @Override
        public long length() {
            return bytes.length;
        }

        @Override
        public InputStream open() {
            return new ByteArrayInputStream(bytes);
        }

        @Override
        public byte[] head(int max) {
            return bytes.length <= max ? bytes : Arrays.copyOf(bytes, max);
        }
    }

    /**
     * Content on disk: {@code prefix} (the headers this node added: Received, Message-ID,
     * Date) followed by the {@code fileLength} bytes of {@code file}, which is null while the
     * body is only decoded, not yet located on this node ({@link BodyStore} locates it).
     */
    record OnDisk(byte[] prefix, Path file, long fileLength) implements MessageBody {
        public OnDisk {
            Objects.requireNonNull(prefix, "prefix");
        }

        @Override
        public long length() {
            return prefix.length + fileLength;
        }

        @Override
        public InputStream open() throws IOException {
            return new SequenceInputStream(new ByteArrayInputStream(prefix), Files.newInputStream(located()));
        }

        @Override
        public byte[] head(int max) throws IOException {
            int want = (int) Math.min(max, length());
            byte[] out = Arrays.copyOf(prefix, want);
            if (want > prefix.length) {
                ByteBuffer b = ByteBuffer.wrap(out, prefix.length, want - prefix.length);
                try (FileChannel ch = FileChannel.open(located(), StandardOpenOption.READ)) {
                    while (b.hasRemaining() && ch.read(b) >= 0) {
                        // until full or the end of the file
                    }
                }
            }
            return out;
        }

        /** The same body at {@code where}. */
        public OnDisk at(Path where) {
            return new OnDisk(prefix, where, fileLength);
        }

        private Path located() throws IOException {
            if (file == null) {
                throw new IOException("body on disk not located on this node");
            }
            return file;
        }
    }
}
