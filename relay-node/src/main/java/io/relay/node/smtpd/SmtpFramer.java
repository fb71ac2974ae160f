package io.relay.node.smtpd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.ByteProcessor;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * content goes into one growable byte[] (no per-line allocation, no regex) whose every
 * allocation is reserved in the node's {@link ReceiveMemory}; past the size limit, or when
 * the budget has no room, the buffer is let go and the bytes are counted and dropped until
 * the final dot. Given a file ({@link #startData(Path)}), a message larger than
 * {@link #SPILL_AT} streams there as it arrives, the buffer (at most {@link #SPILL_AT})
 * serving as the write buffer: a 40 MB message holds 256 KiB of heap while it is received,
 * and comes out as {@link SmtpInput.MessageFile}. A file that cannot be written (disk full)
 * is dropped like a buffer the budget refused. A bare CR ends framing for good. A line ending in a bare LF, in DATA or a
 * command, either ends framing (Postfix's smtpd_forbid_bare_newline=reject) or is taken as
 * if it ended in CRLF (normalize, stored with CRLF); the end of DATA is only
 * {@code <CR><LF>.<CR><LF>}, so a lone dot next to a bare LF is content (the dot kept, and
 * stuffed again on the way out). The session switches to DATA mode with
 * {@link #startData()} synchronously while handling the DATA command, and can
 * {@link #pause} decoding while it waits for the queue so that commands are taken strictly
 * in order.
 *
 * <p>Settings: {@code smtpd.line-length-limit} (CRLF included), {@code smtpd.message-size-limit},
 * {@code smtpd.forbid-bare-newline}, {@code smtpd.receive-memory-limit}.
 */
public final class SmtpFramer extends ByteToMessageDecoder {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SmtpFramer.class);
    private static final byte CR = '\r';
    private static final byte LF = '\n';

    private static final int KEEP_BUFFER = ReceiveMemory.SMALL;
    /** The first buffer of a session's message: most mail fits; bigger grows by doubling. */
    private static final int FIRST_BUFFER = 8 * 1024;

    private enum Mode { COMMAND, SKIP_LINE, DATA, DEAD }

    private static final byte[] NONE = new byte[0];
    /** Content beyond this goes to the file, when there is one: the largest buffer a session holds. */
    static final int SPILL_AT = ReceiveMemory.SMALL;

    private final int lineLengthLimit;
    private final long sizeLimit;
    private final boolean bareLfAccepted;
    private final ReceiveMemory memory;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

    private Mode mode = Mode.COMMAND;
    private boolean paused;

    // DATA state
    /** The buffer; its length is what this framer holds reserved in {@link #memory}. */
    private byte[] content = NONE;
    private int length;
    private long received;
    private boolean oversized;
    private boolean noRoom;      // the receive budget refused to grow the buffer
    private boolean dropping;    // oversized or noRoom: count and drop until the final dot
    private boolean lineStart;
    private boolean afterCrlf;   // the line started after CRLF (or at the start of DATA)
    private boolean dotLine;
    private boolean pendingCr;
    /** Where a large message streams (null: all in the buffer), the open file once it does, and bytes written. */
    private Path spillPath;
    private FileChannel spill;
    private long spilled;

    /** A framer that normalizes bare LF and has no memory bound (tools, benchmarks). */
    public SmtpFramer(int lineLengthLimit, long sizeLimit) {
        this(lineLengthLimit, sizeLimit, BareNewline.NORMALIZE, ReceiveMemory.UNLIMITED);
    }

    public SmtpFramer(int lineLengthLimit, long sizeLimit, BareNewline bareNewline, ReceiveMemory memory) {
        this.lineLengthLimit = lineLengthLimit;
        this.sizeLimit = sizeLimit;
        this.bareLfAccepted = bareNewline.accepted();
        this.memory = memory;
    }

    /**
     * The next bytes are message content (called before the 354 reply). False when the
     * node's receive budget has no room for even the first buffer: the session answers 452
     * and stays in command mode.
     */
    public boolean startData() {
        return startData(null);
    }

    /** As {@link #startData()}, letting a large message stream to {@code spillTo} (null: never). */
    public boolean startData(Path spillTo) {
        discardSpill();
        spillPath = spillTo;
        if (content.length == 0) {
            int first = (int) Math.min(FIRST_BUFFER, sizeLimit + 1);
            if (!memory.tryReserve(first)) {
                return false;
            }
            content = new byte[first];
        }
        mode = Mode.DATA;
        length = 0;
        received = 0;
        oversized = false;
        noRoom = false;
        dropping = false;
        lineStart = true;
        afterCrlf = true;
        dotLine = false;
        pendingCr = false;
        return true;
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

    /** The channel is gone (closed, failed, mid-DATA or not): give the buffer back to the budget. */
    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        dropBuffer();
        discardSpill();
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
        boolean crlf = lf > start && in.getByte(lf - 1) == CR;
        if (!crlf && !bareLfAccepted) {
            mode = Mode.DEAD;
            in.skipBytes(in.readableBytes());
            out.add(new SmtpInput.BareNewline("<LF>"));
            return;
        }
        int textLen = lf - (crlf ? 1 : 0) - start;
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
                if (dotLine && afterCrlf) { // CRLF . CRLF: end of data, and nothing else is
                    in.readerIndex(i);
                    endOfData(out);
                    return;
                }
                endLine(true);
                continue;
            }
            if (b == CR) {
                pendingCr = true;
                continue;
            }
            if (b == LF) {
                if (!bareLfAccepted) {
                    fail(in, out, "<LF>");
                    return;
                }
                endLine(false);
                continue;
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

    /** Ends a content line with CRLF, whichever way the client ended it. */
    private void endLine(boolean crlf) {
        if (dotLine) { // a lone dot that is not the end of data (a bare LF is next to it): content
            append((byte) '.');
            dotLine = false;
        }
        append(CR);
        append(LF);
        lineStart = true;
        afterCrlf = crlf;
    }

    private void endOfData(List<Object> out) {
        mode = Mode.COMMAND;
        SmtpInput message;
        if (oversized) {
            message = new SmtpInput.MessageContent(null, received);
        } else if (noRoom || (spill != null && !flushSpill())) {
            message = new SmtpInput.NoReceiveMemory(received);
        } else if (spill != null) {
            message = closeSpill();
        } else {
            message = new SmtpInput.MessageContent(Arrays.copyOf(content, length), received);
        }
        // kept for the next message unless big, or the node is short of room
        if (content.length > KEEP_BUFFER || memory.underPressure()) {
            dropBuffer();
        }
        out.add(message);
    }

    private void dropBuffer() {
        memory.release(content.length);
        content = NONE;
        length = 0;
    }

    /**
     * Writes the buffer out to the spill file (opened at the first call) and empties it.
     * False, with the message dropped, when the file cannot be written: the client gets
     * 452 4.3.1 at the final dot, as when the receive budget is short.
     */
    private boolean flushSpill() {
        try {
            if (spill == null) {
                spill = FileChannel.open(spillPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING);
                spilled = 0;
            }
            // On the event loop: a write into the page cache (no fsync; the queue syncs it at accept).
            ByteBuffer b = ByteBuffer.wrap(content, 0, length);
            while (b.hasRemaining()) {
                spilled += spill.write(b, spilled);
            }
            length = 0;
            return true;
        } catch (IOException e) {
            LOG.warn("cannot write the content of a large message to {}: {}", spillPath, e.toString());
            noRoom = true;
            dropping = true;
            discardSpill();
            return false;
        }
    }

    /** The spilled message, its file closed and handed on: from now on it is the session's. */
    private SmtpInput closeSpill() {
        Path file = spillPath;
        long size = spilled;
        try {
            spill.close();
        } catch (IOException e) {
            LOG.warn("cannot close {}: {}", file, e.toString());
            discardSpill();
            return new SmtpInput.NoReceiveMemory(received);
        }
        spill = null;
        spillPath = null;
        return new SmtpInput.MessageFile(file, size, received);
    }

    /** Closes and removes a spill file that will not become a message. */
    private void discardSpill() {
        if (spill != null) {
            try {
                spill.close();
            } catch (IOException ignored) {
                // removed below either way
            }
            spill = null;
            try {
                Files.deleteIfExists(spillPath);
            } catch (IOException e) {
                LOG.debug("cannot remove {}: {}", spillPath, e.toString());
            }
        }
    }

    /** Makes room for {@code more} bytes: into the spill file past {@link #SPILL_AT}, else a bigger buffer. */
    private boolean room(int more) {
        if (spillPath != null && (spill != null || (long) length + more > SPILL_AT)) {
            return flushSpill();
        }
        return grow(more);
    }

    /** Grows the buffer to take {@code more} bytes; false (and the message dropped) when the budget refuses. */
    private boolean grow(int more) {
        long cap = Math.min(spillPath != null ? SPILL_AT : sizeLimit + 1, Integer.MAX_VALUE - 8);
        int size = (int) Math.min(Math.max(Math.max((long) length + more, 16), (long) content.length * 2), cap);
        // the old and the new array are both alive during the copy: reserve the new one whole
        if (!memory.tryReserve(size)) {
            noRoom = true;
            dropping = true;
            dropBuffer();
            return false;
        }
        int old = content.length;
        content = Arrays.copyOf(content, size);
        memory.release(old);
        return true;
    }

    private void fail(ByteBuf in, List<Object> out, String which) {
        discardSpill();
        mode = Mode.DEAD;
        in.skipBytes(in.readableBytes());
        out.add(new SmtpInput.BareNewline(which));
    }

    private void appendRun(ByteBuf in, int index, int run) {
        received += run;
        if (dropping) {
            return;
        }
        if (received > sizeLimit) {
            tooBig();
            return;
        }
        if (length + run > content.length && !room(run)) {
            return;
        }
        if (run > content.length - length) { // longer than the whole buffer: straight to the file
            try {
                for (int done = 0; done < run; ) {
                    int n = in.getBytes(index + done, spill, spilled, run - done);
                    done += n;
                    spilled += n;
                }
            } catch (IOException e) {
                LOG.warn("cannot write the content of a large message to {}: {}", spillPath, e.toString());
                noRoom = true;
                dropping = true;
                discardSpill();
            }
            return;
        }
        in.getBytes(index, content, length, run);
        length += run;
    }

    private void append(byte b) {
        received++;
        if (dropping) {
            return;
        }
        if (received > sizeLimit) {
            tooBig();
            return;
        }
        if (length == content.length && !room(1)) {
            return;
        }
        content[length++] = b;
    }

    /** Past the size limit: the rest is only counted, so the buffer goes back to the budget now. */
    private void tooBig() {
        oversized = true;
        dropping = true;
        dropBuffer();
        discardSpill();
    }
}
