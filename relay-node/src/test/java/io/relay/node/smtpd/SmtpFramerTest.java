package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Exact-bytes tests of the framer on EmbeddedChannel. Every input is also fed split at every
 * byte boundary and one byte at a time, and must frame the same.
 */
class SmtpFramerTest {

    /** Stands in for the session: switches to DATA mode on "DATA", as SmtpSession does. */
    private static final class Recorder extends ChannelInboundHandlerAdapter {
        final SmtpFramer framer;
        final List<String> seen = new ArrayList<>();

        Recorder(SmtpFramer framer) {
            this.framer = framer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            SmtpInput in = (SmtpInput) msg;
            seen.add(describe(in));
            if (in instanceof SmtpInput.CommandLine l && l.text().equals("DATA") && !framer.startData()) {
                seen.add("NO-ROOM-AT-DATA");
            }
        }
    }

    static String describe(SmtpInput in) {
        if (in instanceof SmtpInput.CommandLine l) {
            return "LINE[" + l.text() + "]";
        }
        if (in instanceof SmtpInput.MessageContent m) {
            return m.oversized() ? "OVERSIZED[" + m.size() + "]"
                    : "CONTENT[" + new String(m.content(), StandardCharsets.ISO_8859_1) + "]";
        }
        if (in instanceof SmtpInput.NoReceiveMemory n) {
            return "NOROOM[" + n.size() + "]";
        }
        if (in instanceof SmtpInput.BareNewline b) {
            return "BARE" + b.which();
        }
        return in.getClass().getSimpleName();
    }

    private static List<String> feed(String input, int lineLimit, long sizeLimit, List<byte[]> chunks) {
        return feed(new SmtpFramer(lineLimit, sizeLimit, BareNewline.NORMALIZE, ReceiveMemory.UNLIMITED), chunks);
    }

    private static List<String> feed(SmtpFramer framer, List<byte[]> chunks) {
        Recorder r = new Recorder(framer);
        EmbeddedChannel ch = new EmbeddedChannel(framer, r);
        for (byte[] c : chunks) {
            ch.writeInbound(Unpooled.wrappedBuffer(c));
        }
        ch.finishAndReleaseAll();
        return r.seen;
    }

    /** Frames the input whole, split at every boundary, and byte by byte; all must agree. */
    private static List<String> frame(String input, int lineLimit, long sizeLimit) {
        return frame(input, () -> new SmtpFramer(lineLimit, sizeLimit, BareNewline.NORMALIZE, ReceiveMemory.UNLIMITED));
    }

    private static List<String> frame(String input, BareNewline mode) {
        return frame(input, () -> new SmtpFramer(2048, 1000, mode, ReceiveMemory.UNLIMITED));
    }

    private static List<String> frame(String input, Supplier<SmtpFramer> framers) {
        byte[] bytes = input.getBytes(StandardCharsets.ISO_8859_1);
        List<String> whole = feed(framers.get(), List.of(bytes));
        for (int k = 1; k < bytes.length; k++) {
            byte[] a = java.util.Arrays.copyOfRange(bytes, 0, k);
            byte[] b = java.util.Arrays.copyOfRange(bytes, k, bytes.length);
            assertEquals(whole, feed(framers.get(), List.of(a, b)), "split at " + k);
        }
        List<byte[]> singles = new ArrayList<>();
        for (byte x : bytes) {
            singles.add(new byte[] {x});
        }
        assertEquals(whole, feed(framers.get(), singles), "byte by byte");
        return whole;
    }

    private static List<String> frame(String input) {
        return frame(input, 2048, 1000);
    }

    @Test
    void commandLines() {
        assertEquals(List.of("LINE[EHLO x]", "LINE[NOOP]"), frame("EHLO x\r\nNOOP\r\n"));
    }

    @Test
    void moreBufferedFlagsPipelinedBytes() {
        SmtpFramer framer = new SmtpFramer(2048, 1000);
        List<Boolean> more = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(framer, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                more.add(((SmtpInput.CommandLine) msg).moreBuffered());
            }
        });
        ch.writeInbound(Unpooled.copiedBuffer("STARTTLS\r\nMAIL FROM:<a@b>\r\n", StandardCharsets.US_ASCII));
        ch.writeInbound(Unpooled.copiedBuffer("STARTTLS\r\n", StandardCharsets.US_ASCII));
        assertEquals(List.of(true, false, false), more);
        ch.finishAndReleaseAll();
    }

    @Test
    void lineLengthLimitCountsCrlf() {
        String ok = "x".repeat(8);        // 8 + CRLF = 10 = limit
        String tooLong = "y".repeat(9);   // 11 > limit
        assertEquals(List.of("LINE[" + ok + "]", "LineTooLong", "LINE[NOOP]"),
                frame(ok + "\r\n" + tooLong + "\r\nNOOP\r\n", 10, 1000));
    }

    @Test
    void veryLongLineIsDiscardedToItsEnd() {
        assertEquals(List.of("LineTooLong", "LINE[QUIT]"), frame("Z".repeat(50) + "\r\nQUIT\r\n", 10, 1000));
    }

    @Test
    void commandEndingInBareLfIsRefusedInRejectMode() {
        assertEquals(List.of("LINE[EHLO x]", "BARE<LF>"), frame("EHLO x\r\nNOOP\nQUIT\r\n", BareNewline.REJECT));
    }

    @Test
    void dataIsDotUnstuffedAndEndsOnlyAtCrlfDotCrlf() {
        assertEquals(List.of("LINE[DATA]", "CONTENT[a\r\n.b\r\nc .\r\n\r\nx\r\n]", "LINE[NOOP]"),
                frame("DATA\r\na\r\n..b\r\nc .\r\n\r\n.x\r\n.\r\nNOOP\r\n"));
    }

    @Test
    void emptyMessage() {
        assertEquals(List.of("LINE[DATA]", "CONTENT[]", "LINE[QUIT]"), frame("DATA\r\n.\r\nQUIT\r\n"));
    }

    @Test
    void bareLfInDataIsRefusedInRejectModeEvenInTheSmugglingShape() {
        assertEquals(List.of("LINE[DATA]", "BARE<LF>"), frame("DATA\r\nx\n.\r\nMAIL FROM:<e@x>\r\n", BareNewline.REJECT));
        assertEquals(List.of("LINE[DATA]", "BARE<LF>"), frame("DATA\r\nx\r\n.\nRSET\r\n", BareNewline.REJECT));
    }

    @Test
    void bareCrInDataIsRefused() {
        assertEquals(List.of("LINE[DATA]", "BARE<CR>"), frame("DATA\r\nx\r.\r\n.\r\n"));
        assertEquals(List.of("LINE[DATA]", "BARE<CR>"), frame("DATA\r\nx\r\n.\r.\r\n"));
    }

    @Test
    void oversizedContentIsReadToTheDotAndReported() {
        String body = "0123456789\r\n".repeat(3); // 36 bytes
        assertEquals(List.of("LINE[DATA]", "OVERSIZED[36]", "LINE[NOOP]"), frame("DATA\r\n" + body + ".\r\nNOOP\r\n", 2048, 20));
        assertEquals(List.of("LINE[DATA]", "CONTENT[" + body + "]"), frame("DATA\r\n" + body + ".\r\n", 2048, 36));
    }

    @Test
    void utf8CommandLineAndMalformedUtf8() {
        assertEquals(List.of("LINE[RCPT TO:<jörg@x>]"),
                feed("", 2048, 1000, List.of("RCPT TO:<jörg@x>\r\n".getBytes(StandardCharsets.UTF_8))));
        assertEquals(List.of("MalformedLine", "LINE[NOOP]"),
                feed("", 2048, 1000, List.of(new byte[] {'A', (byte) 0xC3, '\r', '\n', 'N', 'O', 'O', 'P', '\r', '\n'})));
    }

    // ---- smtpd.forbid-bare-newline (issue 16)

    @Test
    void normalizeTakesCommandAndContentLinesEndingInBareLfAsCrlf() {
        for (BareNewline mode : List.of(BareNewline.NORMALIZE, BareNewline.NO)) {
            assertEquals(List.of("LINE[EHLO x]", "LINE[NOOP]", "LINE[DATA]", "CONTENT[a\r\nb\r\n\r\nc\r\n]", "LINE[QUIT]"),
                    frame("EHLO x\nNOOP\r\nDATA\na\nb\r\n\nc\r\n.\r\nQUIT\n", mode), mode.name());
        }
    }

    /** Dots are unstuffed after a bare LF too (smtplib stuffs there); a lone dot that is not the end stays. */
    @Test
    void normalizeUnstuffsAfterBareLfAndKeepsALoneDotThatIsNotTheEnd() {
        assertEquals(List.of("LINE[DATA]", "CONTENT[a\r\n.b\r\n.\r\n.\r\n.\r\n.\r\n]", "LINE[NOOP]"),
                frame("DATA\r\na\n..b\n.\n..\r\n.\n.\r\n.\r\nNOOP\r\n", BareNewline.NORMALIZE));
    }

    /**
     * The SMTP-smuggling end-of-data shapes, each followed by a hidden second transaction:
     * in no mode does one end the message; normalize takes the hidden text as content of the
     * one message (with CRLF line ends), reject and a bare CR end the session.
     */
    @Test
    void smugglingEndOfDataShapesNeverEndTheMessage() {
        String hidden = "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@x>\r\nDATA\r\nhidden\r\n";
        String kept = "CONTENT[legit\r\n.\r\n" + hidden + "]";
        List<String[]> table = List.of(
                // shape, normalize and no, reject
                new String[] {"\n.\n", kept, "BARE<LF>"},
                new String[] {"\n.\r\n", kept, "BARE<LF>"},
                new String[] {"\r\n.\n", kept, "BARE<LF>"},
                new String[] {"\r.\r", "BARE<CR>", "BARE<CR>"},
                new String[] {"\r\n.\r", "BARE<CR>", "BARE<CR>"},
                new String[] {"\n.\r", "BARE<CR>", "BARE<LF>"});
        for (String[] row : table) {
            String input = "DATA\r\nlegit" + row[0] + hidden + ".\r\nQUIT\r\n";
            String shown = row[0].replace("\r", "<CR>").replace("\n", "<LF>");
            List<String> after = row[1].startsWith("CONTENT") ? List.of("LINE[DATA]", row[1], "LINE[QUIT]")
                    : List.of("LINE[DATA]", row[1]);
            assertEquals(after, frame(input, BareNewline.NORMALIZE), "normalize " + shown);
            assertEquals(after, frame(input, BareNewline.NO), "no " + shown);
            assertEquals(List.of("LINE[DATA]", row[2]), frame(input, BareNewline.REJECT), "reject " + shown);
        }
    }

    // ---- smtpd.receive-memory-limit (issue 16)

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void messageBeyondTheNodesBudgetIsReadToTheDotDroppedAndItsBytesGivenBack() {
        ReceiveMemory memory = new ReceiveMemory(100_000);
        String body = ("x".repeat(998) + "\r\n").repeat(25); // 25,000 bytes
        // a holds 32 KB mid-DATA
        SmtpFramer a = new SmtpFramer(2048, 1_000_000, BareNewline.NORMALIZE, memory);
        Recorder ra = new Recorder(a);
        EmbeddedChannel cha = new EmbeddedChannel(a, ra);
        cha.writeInbound(Unpooled.wrappedBuffer(ascii("DATA\r\n" + body.substring(0, 20_000))));
        assertEquals(32 * 1024, memory.reserved());
        // b would need 64 KB next to a's 32 KB: dropped, answered at its final dot
        SmtpFramer b = new SmtpFramer(2048, 1_000_000, BareNewline.NORMALIZE, memory);
        Recorder rb = new Recorder(b);
        EmbeddedChannel chb = new EmbeddedChannel(b, rb);
        chb.writeInbound(Unpooled.wrappedBuffer(ascii("DATA\r\n" + body + body + ".\r\nNOOP\r\n")));
        assertEquals(List.of("LINE[DATA]", "NOROOM[50000]", "LINE[NOOP]"), rb.seen);
        assertEquals(32 * 1024, memory.reserved(), "b gave back all it held");
        // a's message fits once b's bytes are back
        cha.writeInbound(Unpooled.wrappedBuffer(ascii(body.substring(20_000) + body + ".\r\n")));
        assertEquals("CONTENT[" + body + body + "]", ra.seen.get(1));
        assertEquals(0, memory.reserved(), "a's 64 KB buffer is not kept while more than half the budget is in use");
        // a full budget refuses at DATA; a closed connection gives back what it held mid-DATA
        cha.writeInbound(Unpooled.wrappedBuffer(ascii("DATA\r\n" + body)));
        assertEquals(32 * 1024, memory.reserved());
        assertTrue(memory.tryReserve(100_000 - 32 * 1024));
        chb.writeInbound(Unpooled.wrappedBuffer(ascii("DATA\r\nNOOP\r\n")));
        assertEquals(List.of("LINE[DATA]", "NOROOM[50000]", "LINE[NOOP]", "LINE[DATA]", "NO-ROOM-AT-DATA", "LINE[NOOP]"),
                rb.seen);
        memory.release(100_000 - 32 * 1024);
        cha.close();
        assertEquals(0, memory.reserved(), "closed mid-DATA");
        chb.finishAndReleaseAll();
    }

    @Test
    void largeBuffersLeaveAQuarterOfTheBudgetToSmallOnes() {
        ReceiveMemory memory = new ReceiveMemory(4L << 20);
        assertTrue(memory.tryReserve(2L << 20));
        assertFalse(memory.tryReserve((1L << 20) + 1), "a large buffer may not take the last quarter");
        assertTrue(memory.tryReserve(ReceiveMemory.SMALL));
        assertTrue(memory.tryReserve((1L << 20) - ReceiveMemory.SMALL), "small ones may");
        assertEquals(3L << 20, memory.reserved());
    }

    @Test
    void oversizedMessageGivesItsBufferBackAtOnce() {
        ReceiveMemory memory = new ReceiveMemory(1 << 20);
        SmtpFramer f = new SmtpFramer(2048, 20_000, BareNewline.NORMALIZE, memory);
        EmbeddedChannel ch = new EmbeddedChannel(f, new Recorder(f));
        ch.writeInbound(Unpooled.wrappedBuffer(ascii("DATA\r\n" + "y".repeat(30_000))));
        assertEquals(0, memory.reserved());
        ch.finishAndReleaseAll();
    }
}
