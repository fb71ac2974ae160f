package io.relay.node.dkim;

import java.util.Base64;

/**
 * The SHA-256 hash of a canonicalized body, the bh= of every signature made with this body
 * canonicalization (RSA and Ed25519 alike).
 *
 * @param canonicalization how the body was canonicalized before hashing; a signer checks it
 *                         matches the c= it writes
 * @param sha256           the 32-byte digest
 */
public record BodyHash(Canonicalization canonicalization, byte[] sha256) {
    public BodyHash {
        if (sha256.length != 32) {
            throw new IllegalArgumentException("a SHA-256 body hash has 32 bytes, not " + sha256.length);
        }
        sha256 = sha256.clone();
    }

    @Override
    public byte[] sha256() {
        return sha256.clone();
    }

    /** The bh= value. */
    public String base64() {
        return Base64.getEncoder().encodeToString(sha256);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BodyHash h && h.canonicalization == canonicalization
                && java.util.Arrays.equals(h.sha256, sha256);
    }

    @Override
    public int hashCode() {
        return canonicalization.hashCode() * 31 + java.util.Arrays.hashCode(sha256);
    }

    @Override
    public String toString() {
        return "BodyHash[" + canonicalization.tag() + ", " + base64() + "]";
    }
}
