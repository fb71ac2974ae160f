package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streaming DATA (issue 17, item 2): a message larger than {@link SmtpFramer#SPILL_AT} goes
 * to the session's file as it arrives and comes out as {@link SmtpInput.MessageFile} with
 * exactly the bytes the in-heap framing gives (dots unstuffed, bare LF normalized, at any
 * packet split), while the framer's reservation in the receive budget never passes
 * {@link SmtpFramer#SPILL_AT}. A message that will not be accepted leaves no file.
 */
class SmtpFramerSpillTest {
    @TempDir
    Path dir;

    /** Stands in for the session: DATA switches the framer to DATA mode with a spill file. */
    private static final class Session extends ChannelInboundHandlerAdapter {
        final SmtpFramer framer;
        final Path spill;
        final List<SmtpInput> seen = new ArrayList<>();

        Session(SmtpFramer framer, Path spill) {
            this.framer = framer;
            this.spill = spill;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            SmtpInput in = (SmtpInput) msg;
            seen.add(in);
            if (in instanceof SmtpInput.CommandLine l && l.text().equals("DATA")) {
                assertTrue(framer.startData(spill));
            }
        }
    }

    /** A web app's large message: long runs, leading dots (stuffed on the wire), some bare-LF lines. */
    private static byte[] wire(int lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes("DATA\r\nSubject: big\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < lines; i++) {
            String line = switch (i % 13) {
                case 3 -> "..stuffed " + i + "\r\n";
                case 5 -> "bare lf " + i + "\n";
                case 7 -> "..\r\n...\r\n"; // a lone dot and a line of two dots, stuffed: never the end
                default -> "x".repeat(i % 997) + "\r\n";
            };
            out.writeBytes(line.getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes(".\r\nNOOP\r\n".getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private List<SmtpInput> feed(SmtpFramer framer, Path spill, byte[] bytes, int chunk, ReceiveMemory memory) {
        Session s = new Session(framer, spill);
        EmbeddedChannel ch = new EmbeddedChannel(framer, s);
        for (int at = 0; at < bytes.length; at += chunk) {
            ch.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(bytes, at, Math.min(bytes.length, at + chunk))));
            assertTrue(memory.reserved() <= SmtpFramer.SPILL_AT, "reserved " + memory.reserved());
        }
        ch.finishAndReleaseAll();
        return s.seen;
    }

    private static String describe(List<SmtpInput> seen) {
        return seen.size() + " inputs, the first " + seen.subList(0, Math.min(3, seen.size()));
    }

    @Test
    void aLargeMessageStreamsToItsFileWithTheBytesTheHeapFramingGives() throws Exception {
        byte[] bytes = wire(6000); // about 3 MB
        List<SmtpInput> inHeap = feed(new SmtpFramer(2048, 10L << 20), null, bytes, bytes.length,
                ReceiveMemory.UNLIMITED);
        byte[] expected = ((SmtpInput.MessageContent) inHeap.get(1)).content();
        assertTrue(expected.length > 2 * SmtpFramer.SPILL_AT, "the message is large: " + expected.length);
        for (int chunk : new int[] {bytes.length, 65_536, 1_000, 7}) {
            Path spill = dir.resolve("spill-" + chunk);
            ReceiveMemory memory = new ReceiveMemory(64L << 20);
            List<SmtpInput> seen = feed(new SmtpFramer(2048, 10L << 20, BareNewline.NORMALIZE, memory), spill,
                    bytes, chunk, memory);
            assertEquals(3, seen.size(), describe(seen));
            SmtpInput.MessageFile f = assertInstanceOf(SmtpInput.MessageFile.class, seen.get(1));
            assertEquals(spill, f.file());
            assertEquals(expected.length, f.length());
            assertArrayEquals(expected, Files.readAllBytes(spill), "chunks of " + chunk);
            assertEquals("NOOP", ((SmtpInput.CommandLine) seen.get(2)).text(), "the next command after the dot");
            assertEquals(0, memory.reserved(), "the buffer went back to the budget when the channel closed");
        }
    }

    @Test
    void aSmallMessageStaysInTheHeapAndMakesNoFile() {
        Path spill = dir.resolve("small");
        byte[] bytes = "DATA\r\nSubject: s\r\n\r\nhello\r\n.\r\n".getBytes(StandardCharsets.US_ASCII);
        List<SmtpInput> seen = feed(new SmtpFramer(2048, 1 << 20), spill, bytes, bytes.length, ReceiveMemory.UNLIMITED);
        assertInstanceOf(SmtpInput.MessageContent.class, seen.get(1));
        assertFalse(Files.exists(spill));
    }

    @Test
    void aMessageOverTheSizeLimitLeavesNoFile() {
        Path spill = dir.resolve("oversized");
        byte[] bytes = wire(6000);
        List<SmtpInput> seen = feed(new SmtpFramer(2048, 1L << 20), spill, bytes, 65_536, ReceiveMemory.UNLIMITED);
        assertTrue(((SmtpInput.MessageContent) seen.get(1)).oversized(), describe(seen));
        assertFalse(Files.exists(spill), "the spill file of a refused message is removed");
    }

    @Test
    void aConnectionLostInTheMiddleOfALargeMessageLeavesNoFile() {
        Path spill = dir.resolve("lost");
        byte[] bytes = wire(6000);
        SmtpFramer framer = new SmtpFramer(2048, 10L << 20);
        Session s = new Session(framer, spill);
        EmbeddedChannel ch = new EmbeddedChannel(framer, s);
        ch.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOf(bytes, bytes.length / 2)));
        assertTrue(Files.exists(spill), "half the message is on disk");
        ch.close();
        ch.finishAndReleaseAll();
        assertFalse(Files.exists(spill), "a message cut short leaves nothing behind");
    }

    @Test
    void aFileThatCannotBeWrittenIsAReplyNotACrash() {
        Path spill = dir.resolve("no-such-dir").resolve("f"); // as a full or vanished disk: the open fails
        byte[] bytes = wire(6000);
        List<SmtpInput> seen = feed(new SmtpFramer(2048, 10L << 20), spill, bytes, 65_536, ReceiveMemory.UNLIMITED);
        assertInstanceOf(SmtpInput.NoReceiveMemory.class, seen.get(1), describe(seen));
        assertEquals("NOOP", ((SmtpInput.CommandLine) seen.get(2)).text());
    }
}
