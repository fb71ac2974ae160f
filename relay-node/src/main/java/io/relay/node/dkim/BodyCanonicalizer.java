package io.relay.node.dkim;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Streams a body through RFC 6376 §3.4.3 (simple) or §3.4.4 (relaxed) into a sink, in
 * constant memory whatever the body's size.
 *
 * <p>Strategy: a byte at a time through a small state machine. Line ends (CRLF) are not
 * written when seen but counted, and written only when content follows, so the empty lines
 * at the end of the body, which both canonicalizations drop, are never emitted. A CR is held
 * back until the next byte says whether it ends a line; a bare CR or LF is content, as the
 * RFC treats it. Relaxed whitespace is held the same way, so a run at a line's end vanishes.
 * {@link #close()} writes the final CRLF (and, for simple, the CRLF of an empty body); it
 * does not close the sink.
 */
final class BodyCanonicalizer extends OutputStream {
    private final boolean relaxed;
    private final OutputStream sink;
    private final byte[] buf = new byte[8192];
    private int used;
    /** Line ends seen and not yet written. */
    private long pendingLineEnds;
    /** Relaxed: whitespace seen on this line, not yet written. */
    private boolean pendingSpace;
    private boolean heldCr;
    /** Some content was written, so the body is not empty. */
    private boolean anyContent;
    /** The current line holds content (so the body does not end on a line end). */
    private boolean lineHasContent;
    private boolean closed;

    BodyCanonicalizer(Canonicalization c, OutputStream sink) {
        this.relaxed = c == Canonicalization.RELAXED;
        this.sink = sink;
    }

    @Override
    public void write(int b) throws IOException {
        accept((byte) b);
    }

    /** Runs of ordinary bytes go through in one copy; the state machine sees only CR, LF and whitespace. */
    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        int i = off;
        int end = off + len;
        while (i < end) {
            if (heldCr || !ordinary(b[i])) {
                accept(b[i++]);
                continue;
            }
            int j = i + 1;
            while (j < end && ordinary(b[j])) {
                j++;
            }
            contentRun(b, i, j - i);
            i = j;
        }
    }

    private boolean ordinary(byte b) {
        return b != '\r' && b != '\n' && (!relaxed || (b != ' ' && b != '\t'));
    }

    private void contentRun(byte[] b, int off, int len) throws IOException {
        if (closed) {
            throw new IOException("body canonicalizer already closed");
        }
        flushPending();
        if (len > buf.length - used) {
            sink.write(buf, 0, used);
            used = 0;
        }
        if (len > buf.length) {
            sink.write(b, off, len);
        } else {
            System.arraycopy(b, off, buf, used, len);
            used += len;
        }
        anyContent = true;
        lineHasContent = true;
    }

    private void accept(byte b) throws IOException {
        if (closed) {
            throw new IOException("body canonicalizer already closed");
        }
        if (heldCr) {
            heldCr = false;
            if (b == '\n') {
                lineEnd();
                return;
            }
            content((byte) '\r');
        }
        if (b == '\r') {
            heldCr = true;
        } else if (relaxed && (b == ' ' || b == '\t')) {
            pendingSpace = true;
        } else {
            content(b);
        }
    }

    private void lineEnd() {
        pendingLineEnds++;
        pendingSpace = false;
        lineHasContent = false;
    }

    private void content(byte b) throws IOException {
        flushPending();
        out(b);
        anyContent = true;
        lineHasContent = true;
    }

    private void flushPending() throws IOException {
        for (; pendingLineEnds > 0; pendingLineEnds--) {
            out((byte) '\r');
            out((byte) '\n');
        }
        if (pendingSpace) {
            out((byte) ' ');
            pendingSpace = false;
        }
    }

    private void out(byte b) throws IOException {
        if (used == buf.length) {
            sink.write(buf, 0, used);
            used = 0;
        }
        buf[used++] = b;
    }

    /** Ends the body: writes its last CRLF and flushes to the sink (left open). */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        if (heldCr) {
            heldCr = false;
            content((byte) '\r');
        }
        // a last line without its CRLF gets one; trailing empty lines collapse into the CRLF
        // of the last content line; an empty body is empty (relaxed) or one CRLF (simple)
        if (anyContent || !relaxed) {
            out((byte) '\r');
            out((byte) '\n');
        }
        sink.write(buf, 0, used);
        used = 0;
        closed = true;
    }
}
