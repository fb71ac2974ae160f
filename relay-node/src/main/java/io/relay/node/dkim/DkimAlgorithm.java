package io.relay.node.dkim;

/**
 * The two signing algorithms receivers accept today. Both hash with SHA-256, so one body
 * hash serves both signatures of a dual-signed message.
 */
public enum DkimAlgorithm {
    /** RFC 6376: RSASSA-PKCS1-v1_5 over the header data; the DNS record's p= is the SubjectPublicKeyInfo. */
    RSA_SHA256("rsa-sha256", "rsa", "RSA"),
    /**
     * RFC 8463: PureEdDSA Ed25519 over the SHA-256 hash of the header data (not over the data
     * itself); the DNS record's p= is the raw 32-byte public key.
     */
    ED25519_SHA256("ed25519-sha256", "ed25519", "Ed25519");

    private final String tag;
    private final String keyType;
    private final String jcaName;

    DkimAlgorithm(String tag, String keyType, String jcaName) {
        this.tag = tag;
        this.keyType = keyType;
        this.jcaName = jcaName;
    }

    /** The a= value of the signature. */
    public String tag() {
        return tag;
    }

    /** The k= value of the DNS record, and the name operators type ({@code rsa}, {@code ed25519}). */
    public String keyType() {
        return keyType;
    }

    /** The JDK's algorithm name for KeyFactory and KeyPairGenerator. */
    String jcaName() {
        return jcaName;
    }

    /** {@code rsa} or {@code ed25519} (any case) to the algorithm; anything else is a one-line problem. */
    public static DkimAlgorithm ofKeyType(String name) {
        for (DkimAlgorithm a : values()) {
            if (a.keyType.equalsIgnoreCase(name)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown DKIM key type '" + name + "' (rsa or ed25519)");
    }
}
