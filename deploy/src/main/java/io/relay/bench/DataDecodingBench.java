package io.relay.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.relay.node.smtpd.SmtpFramer;
import io.relay.node.smtpd.SmtpInput;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * DATA decoding ({@link SmtpFramer} in DATA mode): one message of {@code size} bytes, one
 * line in ten dot-stuffed, arriving in 16 KB reads as from a socket, framed up to the final
 * {@code .CRLF} into its unstuffed content. Through an EmbeddedChannel, so Netty's
 * ByteToMessageDecoder cumulation is part of the cost as on the server.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Thread)
public class DataDecodingBench {
    private static final int READ = 16 * 1024;

    @Param({"4096", "102400"})
    public int size;

    private EmbeddedChannel channel;
    private SmtpFramer framer;
    private List<byte[]> reads;

    @Setup(Level.Trial)
    public void setUp() {
        framer = new SmtpFramer(2048, 10L * 1024 * 1024);
        channel = new EmbeddedChannel(framer);
        byte[] wire = wire(size);
        reads = new ArrayList<>();
        for (int off = 0; off < wire.length; off += READ) {
            byte[] chunk = new byte[Math.min(READ, wire.length - off)];
            System.arraycopy(wire, off, chunk, 0, chunk.length);
            reads.add(chunk);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.finishAndReleaseAll();
    }

    /** The message as a client sends it after 354: dot-stuffed lines and the final dot. */
    static byte[] wire(int size) {
        StringBuilder b = new StringBuilder("From: <a@app.example.com>\r\nTo: <b@example.org>\r\nSubject: bench\r\n\r\n");
        int line = 0;
        while (b.length() < size) {
            b.append(line++ % 10 == 9 ? ".." : "").append("x".repeat(74)).append("\r\n");
        }
        b.append(".\r\n");
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    @Benchmark
    public long decode() {
        framer.startData();
        for (byte[] r : reads) {
            ByteBuf buf = Unpooled.wrappedBuffer(r);
            channel.writeInbound(buf);
        }
        Object out = channel.readInbound();
        if (!(out instanceof SmtpInput.MessageContent m)) {
            throw new IllegalStateException("expected the message content, got " + out);
        }
        return m.size();
    }
}
