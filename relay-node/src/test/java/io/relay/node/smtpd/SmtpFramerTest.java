package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
            if (in instanceof SmtpInput.CommandLine l && l.text().equals("DATA")) {
                framer.startData();
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
        if (in instanceof SmtpInput.BareNewline b) {
            return "BARE" + b.which();
        }
        return in.getClass().getSimpleName();
    }

    private static List<String> feed(String input, int lineLimit, long sizeLimit, List<byte[]> chunks) {
        SmtpFramer framer = new SmtpFramer(lineLimit, sizeLimit);
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
        byte[] bytes = input.getBytes(StandardCharsets.ISO_8859_1);
        List<String> whole = feed(input, lineLimit, sizeLimit, List.of(bytes));
        for (int k = 1; k < bytes.length; k++) {
            byte[] a = java.util.Arrays.copyOfRange(bytes, 0, k);
            byte[] b = java.util.Arrays.copyOfRange(bytes, k, bytes.length);
            assertEquals(whole, feed(input, lineLimit, sizeLimit, List.of(a, b)), "split at " + k);
        }
        List<byte[]> singles = new ArrayList<>();
        for (byte x : bytes) {
            singles.add(new byte[] {x});
        }
        assertEquals(whole, feed(input, lineLimit, sizeLimit, singles), "byte by byte");
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
    void commandEndingInBareLfIsRefused() {
        assertEquals(List.of("LINE[EHLO x]", "BARE<LF>"), frame("EHLO x\r\nNOOP\nQUIT\r\n"));
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
    void bareLfInDataIsRefusedEvenInTheSmugglingShape() {
        assertEquals(List.of("LINE[DATA]", "BARE<LF>"), frame("DATA\r\nx\n.\r\nMAIL FROM:<e@x>\r\n"));
        assertEquals(List.of("LINE[DATA]", "BARE<LF>"), frame("DATA\r\nx\r\n.\nRSET\r\n"));
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
}
