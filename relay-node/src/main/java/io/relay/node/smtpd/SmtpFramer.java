package io.relay.node.smtpd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.ByteProcessor;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Splits the inbound byte stream into {@link SmtpInput}s: bounded command lines in command
 * mode, and the dot-unstuffed message content in DATA mode.
 *
 * <p>Strategy: one byte-level state machine that survives arbitrary packet splits. DATA
 * content goes into one growable byte[] (no per-line allocation, no regex); past the size
 * limit the bytes are counted and dropped until the final dot. A bare CR or bare LF,
 * in DATA or ending a command line, ends framing for good (Postfix's
 * smtpd_forbid_bare_newline=reject). The session switches to DATA mode with
 * {@link #startData()} synchronously while handling the DATA command, and can
 * {@link #pause} decoding while it waits for the queue so that commands are taken strictly
 * in order.
 *
 * <p>Settings: {@code smtpd.line-length-limit} (CRLF included), {@code smtpd.message-size-limit}.
 */
public final class SmtpFramer extends ByteToMessageDecoder {
    private static final byte CR = '\r';
    private static final byte LF = '\n';

    private static final int KEEP_BUFFER = 256 * 1024;
    /** The first buffer of a session's message: most mail fits; bigger grows by doubling. */
    private static final int FIRST_BUFFER = 8 * 1024;

    private enum Mode { COMMAND, SKIP_LINE, DATA, DEAD }

    private final int lineLengthLimit;
    private final long sizeLimit;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

    private Mode mode = Mode.COMMAND;
    private boolean paused;

    // DATA state
    private byte[] content = new byte[0];
    private int length;
    private long received;
    private boolean oversized;
    private boolean lineStart;
    private boolean dotLine;
    private boolean pendingCr;

    public SmtpFramer(int lineLengthLimit, long sizeLimit) {
        this.lineLengthLimit = lineLengthLimit;
        this.sizeLimit = sizeLimit;
    }

    /** The next bytes are message content (called after the 354 reply). */
    public void startData() {
        mode = Mode.DATA;
        length = 0;
        received = 0;
        oversized = false;
        lineStart = true;
        dotLine = false;
        pendingCr = false;
        if (content.length == 0) {
            content = new byte[(int) Math.min(FIRST_BUFFER, sizeLimit + 1)];
        }
    }

    public void pause(boolean pause) {
        this.paused = pause;
    }

    /** Content bytes of the message being received (Postfix logs them on a lost connection). */
    public long dataBytes() {
        return received;
    }

    public boolean paused() {
        return paused;
    }

    /** Whether bytes are buffered here that the session has not seen yet. */
    public boolean hasBuffered() {
        return internalBuffer().isReadable();
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        // One item per call: ByteToMessageDecoder hands it to the session before decoding the
        // next, so a DATA command switches the mode before the content is framed.
        if (paused) {
            return;
        }
        switch (mode) {
            case COMMAND -> decodeLine(in, out);
            case SKIP_LINE -> skipLine(in);
            case DATA -> decodeData(in, out);
            case DEAD -> in.skipBytes(in.readableBytes());
        }
    }

    private void decodeLine(ByteBuf in, List<Object> out) {
        int start = in.readerIndex();
        int searchLen = Math.min(in.readableBytes(), lineLengthLimit);
        int lf = in.indexOf(start, start + searchLen, LF);
        if (lf < 0) {
            if (in.readableBytes() >= lineLengthLimit) {
                int end = in.indexOf(start + searchLen, in.writerIndex(), LF);
                if (end < 0) {
                    in.skipBytes(in.readableBytes());
                    mode = Mode.SKIP_LINE;
                } else {
                    in.readerIndex(end + 1);
                }
                out.add(new SmtpInput.LineTooLong());
            }
            return;
        }
        if (lf == start || in.getByte(lf - 1) != CR) {
            mode = Mode.DEAD;
            in.skipBytes(in.readableBytes());
            out.add(new SmtpInput.BareNewline("<LF>"));
            return;
        }
        int textLen = lf - 1 - start;
        ByteBuffer nio = in.nioBuffer(start, textLen);
        in.readerIndex(lf + 1);
        boolean more = in.isReadable();
        String text;
        if (isAscii(in, start, textLen)) {
            text = in.toString(start, textLen, StandardCharsets.US_ASCII);
        } else {
            try {
                text = utf8.decode(nio).toString();
            } catch (CharacterCodingException e) {
                out.add(new SmtpInput.MalformedLine());
                return;
            }
        }
        out.add(new SmtpInput.CommandLine(text, more));
    }

    private static boolean isAscii(ByteBuf in, int start, int len) {
        for (int i = start; i < start + len; i++) {
            if (in.getByte(i) < 0) {
                return false;
            }
        }
        return true;
    }

    private void skipLine(ByteBuf in) {
        int lf = in.indexOf(in.readerIndex(), in.writerIndex(), LF);
        if (lf < 0) {
            in.skipBytes(in.readableBytes());
        } else {
            in.readerIndex(lf + 1);
            mode = Mode.COMMAND;
        }
    }

    private void decodeData(ByteBuf in, List<Object> out) {
        int i = in.readerIndex();
        int end = in.writerIndex();
        while (i < end) {
            if (!pendingCr && !lineStart) { // fast path: copy the rest of the line in one go
                int stop = in.forEachByte(i, end - i, ByteProcessor.FIND_CRLF);
                int run = (stop < 0 ? end : stop) - i;
                if (run > 0) {
                    appendRun(in, i, run);
                    dotLine = false;
                    i += run;
                    continue;
                }
            }
            byte b = in.getByte(i++);
            if (pendingCr) {
                pendingCr = false;
                if (b != LF) {
                    fail(in, out, "<CR>");
                    return;
                }
                if (dotLine) { // CRLF . CRLF: end of data
                    in.readerIndex(i);
                    mode = Mode.COMMAND;
                    byte[] body = oversized ? null : Arrays.copyOf(content, length);
                    if (content.length > KEEP_BUFFER) { // do not hold a big buffer per idle connection
                        content = new byte[0];
                    }
                    out.add(new SmtpInput.MessageContent(body, received));
                    return;
                }
                append(CR);
                append(LF);
                lineStart = true;
                continue;
            }
            if (b == CR) {
                pendingCr = true;
                continue;
            }
            if (b == LF) {
                fail(in, out, "<LF>");
                return;
            }
            if (lineStart) {
                lineStart = false;
                if (b == '.') { // the stuffed dot (RFC 5321 4.5.2), or the start of the final dot
                    dotLine = true;
                    continue;
                }
            }
            dotLine = false;
            append(b);
        }
        in.readerIndex(end);
    }

    private void fail(ByteBuf in, List<Object> out, String which) {
        mode = Mode.DEAD;
        in.skipBytes(in.readableBytes());
        out.add(new SmtpInput.BareNewline(which));
    }

    private void appendRun(ByteBuf in, int index, int run) {
        received += run;
        if (oversized) {
            return;
        }
        if (received > sizeLimit) {
            oversized = true;
            return;
        }
        if (length + run > content.length) {
            long cap = Math.min(sizeLimit + 1, Integer.MAX_VALUE - 8);
            content = Arrays.copyOf(content, (int) Math.min(Math.max((long) length + run, (long) content.length * 2), cap));
        }
        in.getBytes(index, content, length, run);
        length += run;
    }

    private void append(byte b) {
        received++;
        if (oversized) {
            return;
        }
        if (received > sizeLimit) {
            oversized = true;
            return;
        }
        if (length == content.length) {
            long cap = Math.min(sizeLimit + 1, Integer.MAX_VALUE - 8);
            content = Arrays.copyOf(content, (int) Math.min(Math.max(16, (long) content.length * 2), cap));
        }
        content[length++] = b;
    }
}
