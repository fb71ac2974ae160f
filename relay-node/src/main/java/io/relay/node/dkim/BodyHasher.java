package io.relay.node.dkim;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The body hash, computed as the body streams past: write the body's bytes (as they will be
 * sent, before dot-stuffing) in any chunks, then {@link #finish()}. Meant to sit beside
 * whatever else reads the body (a tee to the SMTP client or the spool), so a 40 MB body is
 * read once and never held in memory.
 */
public final class BodyHasher extends OutputStream {
    private final Canonicalization canonicalization;
    private final MessageDigest digest;
    private final BodyCanonicalizer canonicalizer;
    private BodyHash result;

    public BodyHasher(Canonicalization canonicalization) {
        this.canonicalization = canonicalization;
        this.digest = sha256();
        this.canonicalizer = new BodyCanonicalizer(canonicalization, new OutputStream() {
            @Override
            public void write(int b) {
                digest.update((byte) b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                digest.update(b, off, len);
            }
        });
    }

    /** The hash of a whole body read from {@code body} (to its end; not closed). */
    public static BodyHash of(Canonicalization canonicalization, InputStream body) throws IOException {
        BodyHasher h = new BodyHasher(canonicalization);
        body.transferTo(h);
        return h.finish();
    }

    @Override
    public void write(int b) throws IOException {
        canonicalizer.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        canonicalizer.write(b, off, len);
    }

    /** Ends the body and returns its hash; later calls return the same hash. */
    public BodyHash finish() {
        if (result == null) {
            try {
                canonicalizer.close();
            } catch (IOException e) {
                throw new IllegalStateException("a digest sink cannot fail", e);
            }
            result = new BodyHash(canonicalization, digest.digest());
        }
        return result;
    }

    /** As {@link #finish()}, for try-with-resources. */
    @Override
    public void close() {
        finish();
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java 17 runtime has SHA-256", e);
        }
    }
}
