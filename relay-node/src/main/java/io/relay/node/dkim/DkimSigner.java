package io.relay.node.dkim;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.crypto.signers.Ed25519Signer;

/**
 * Signs messages with one or more keys (RFC 6376; Ed25519 per RFC 8463): one DKIM-Signature
 * field per key, so RSA and Ed25519 keys together give a dual-signed message that receivers
 * without Ed25519 still verify.
 *
 * <p>Strategy: the body is hashed apart from the headers, so a caller that streams the body
 * elsewhere (to the spool, to the SMTP client) writes it into {@link #bodyHasher()} on the
 * way and signs with the hash; the body is read once and never held. One hash serves every
 * key, since both algorithms hash with SHA-256. The header data signed is each selected field
 * canonicalized ({@link HeaderSelection}), then the DKIM-Signature field itself with an
 * empty b= and no final CRLF (§3.7). RSA signs those bytes (SHA256withRSA); Ed25519 signs
 * their SHA-256 hash, not the bytes (RFC 8463 §3). The l= tag is never written: a signature
 * covering part of the body lets anyone append to it.
 *
 * <p>Settings: the keys, the header list, header/body canonicalization (relaxed/relaxed by
 * default), and the clock that gives t=. Thread-safe; a signer holds no per-message state.
 */
public final class DkimSigner {
    private final List<DkimKey> keys;
    private final HeaderSelection headers;
    private final Canonicalization headerCanonicalization;
    private final Canonicalization bodyCanonicalization;
    private final Clock clock;

    public DkimSigner(List<DkimKey> keys, HeaderSelection headers, Canonicalization headerCanonicalization,
            Canonicalization bodyCanonicalization, Clock clock) {
        if (keys.isEmpty()) {
            throw new IllegalArgumentException("a DKIM signer needs at least one key");
        }
        this.keys = List.copyOf(keys);
        this.headers = headers;
        this.headerCanonicalization = headerCanonicalization;
        this.bodyCanonicalization = bodyCanonicalization;
        this.clock = clock;
    }

    /** relaxed/relaxed, the default header list, From over-signed. */
    public DkimSigner(List<DkimKey> keys, Clock clock) {
        this(keys, HeaderSelection.defaults(), Canonicalization.RELAXED, Canonicalization.RELAXED, clock);
    }

    public List<DkimKey> keys() {
        return keys;
    }

    /** A fresh hasher for one body, in this signer's body canonicalization. */
    public BodyHasher bodyHasher() {
        return new BodyHasher(bodyCanonicalization);
    }

    /** Signs a message read whole from {@code message}: header block, empty line, body (streamed). */
    public DkimSignatures sign(InputStream message) throws IOException {
        InputStream in = message.markSupported() ? message : new java.io.BufferedInputStream(message);
        HeaderBlock block = HeaderBlock.read(in);
        return sign(block, BodyHasher.of(bodyCanonicalization, in));
    }

    /** Signs the header block {@code headerBlock} (with or without its empty line) and the body read from {@code body}. */
    public DkimSignatures sign(byte[] headerBlock, InputStream body) throws IOException {
        return sign(HeaderBlock.parse(headerBlock), BodyHasher.of(bodyCanonicalization, body));
    }

    public DkimSignatures sign(byte[] headerBlock, BodyHash bodyHash) {
        return sign(HeaderBlock.parse(headerBlock), bodyHash);
    }

    /** Signs with a body hash computed earlier by {@link #bodyHasher()} (or in the same body canonicalization). */
    public DkimSignatures sign(HeaderBlock block, BodyHash bodyHash) {
        if (bodyHash.canonicalization() != bodyCanonicalization) {
            throw new IllegalArgumentException("body hashed " + bodyHash.canonicalization().tag()
                    + ", signer canonicalizes " + bodyCanonicalization.tag());
        }
        HeaderSelection.Selected selected = headers.select(block);
        byte[] signedHeaders = canonicalHeaders(selected);
        long t = clock.instant().getEpochSecond();
        List<String> fields = new ArrayList<>();
        for (DkimKey key : keys) {
            SignatureField f = new SignatureField()
                    .tag("v", "1")
                    .tag("a", key.algorithm().tag())
                    .tag("c", headerCanonicalization.tag() + "/" + bodyCanonicalization.tag())
                    .tag("d", key.domain())
                    .tag("s", key.selector())
                    .tag("t", Long.toString(t))
                    .headers(selected.names())
                    .base64("bh", bodyHash.base64());
            String unsigned = f.withEmptyB();
            byte[] own = headerCanonicalization.header(HeaderField.of(
                    (unsigned + "\r\n").getBytes(StandardCharsets.US_ASCII)));
            ByteArrayOutputStream data = new ByteArrayOutputStream(signedHeaders.length + own.length);
            data.writeBytes(signedHeaders);
            data.write(own, 0, own.length - 2); // §3.7: the signature field without its CRLF
            fields.add(f.withB(Base64.getEncoder().encodeToString(signature(key, data.toByteArray()))));
        }
        return new DkimSignatures(fields);
    }

    /** The keys by name (never their bytes) and the canonicalization. */
    @Override
    public String toString() {
        return "DkimSigner[" + keys + ", c=" + headerCanonicalization.tag() + "/" + bodyCanonicalization.tag() + "]";
    }

    private byte[] canonicalHeaders(HeaderSelection.Selected selected) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (HeaderField f : selected.fields()) {
            if (f != null) {
                out.writeBytes(headerCanonicalization.header(f));
            }
        }
        return out.toByteArray();
    }

    private static byte[] signature(DkimKey key, byte[] data) {
        try {
            return switch (key.algorithm()) {
                case RSA_SHA256 -> {
                    Signature s = Signature.getInstance("SHA256withRSA");
                    s.initSign(key.privateKey());
                    s.update(data);
                    yield s.sign();
                }
                case ED25519_SHA256 -> {
                    // PureEdDSA over the SHA-256 of the header data (RFC 8463), by Bouncy Castle (DkimKey#ed25519)
                    Ed25519Signer s = new Ed25519Signer();
                    s.init(true, key.ed25519());
                    byte[] hash = BodyHasher.sha256().digest(data);
                    s.update(hash, 0, hash.length);
                    yield s.generateSignature();
                }
            };
        } catch (GeneralSecurityException e) {
            // the key was checked when it was made; name it, not its bytes
            throw new IllegalStateException("DKIM signing with " + key + " failed: " + e.getClass().getSimpleName());
        }
    }
}
