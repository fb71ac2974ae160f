package io.relay.bench;

import io.relay.queue.Envelope;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import io.relay.queue.SpoolJournal;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Spool append with group commit ({@link SpoolJournal#accept}): each operation appends one
 * 4 KB message and waits until its batch is fsync'd, then marks it done (as delivery
 * does, so segments are freed). 1 thread shows the bare fsync cost, 20 threads (the
 * benchmark's session count) how many appends one fsync carries. The journal lives in
 * {@code -Dbench.dir} (default: the temp directory), i.e. on the disk being measured.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 4, time = 3)
@Fork(1)
public class SpoolAppendBench {

    @State(Scope.Benchmark)
    public static class Journal {
        Path dir;
        SpoolJournal journal;
        final AtomicLong seq = new AtomicLong(0x10000000000L);
        byte[] content;
        Envelope envelope;

        @Setup(Level.Trial)
        public void open() throws IOException {
            Path base = Path.of(System.getProperty("bench.dir", System.getProperty("java.io.tmpdir")));
            dir = Files.createTempDirectory(base, "spool-bench");
            journal = SpoolJournal.open(dir, n -> { });
            content = DataDecodingBench.wire(4096);
            envelope = new Envelope("app@example.com", List.of("someone@example.org"), "unknown", "127.0.0.1",
                    "web-1.example.com", "ESMTP", false, false, System.currentTimeMillis());
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            long fsyncs = journal.forceCount();
            long records = journal.recordCount();
            journal.close();
            // each operation writes two records (ACCEPT, and DONE riding on a later fsync)
            System.out.printf("%n[spool] %d records in %d fsyncs (%.1f ACCEPTs per fsync)%n", records, fsyncs,
                    fsyncs == 0 ? 0.0 : records / 2.0 / fsyncs);
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }

        QueuedMessage next() {
            return new QueuedMessage(new QueueId(String.format("%016X", seq.incrementAndGet())), envelope, content);
        }
    }

    private static void appendAndDone(Journal j) {
        QueuedMessage m = j.next();
        j.journal.accept(m, "bench-epoch").join();
        j.journal.done(m.id());
    }

    @Benchmark
    @Threads(1)
    public void append1(Journal j) {
        appendAndDone(j);
    }

    @Benchmark
    @Threads(20)
    public void append20(Journal j) {
        appendAndDone(j);
    }
}
