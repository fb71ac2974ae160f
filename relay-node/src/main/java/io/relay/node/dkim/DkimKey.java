package io.relay.node.dkim;

import java.net.IDN;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.RSAKeyGenParameterSpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Base64;
import java.util.Locale;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;

/**
 * A signing key of one domain under one selector: what a signature's d=, s= and a= name,
 * the private key that makes b=, and the public key the DNS record publishes.
 *
 * <p>The private key stays inside: {@link #toString()} names the key, never its bytes, and
 * only this package signs with it. The public key is derived from the private one (RSA's
 * modulus and exponent; Ed25519's point, by Bouncy Castle, since the JDK 17 API cannot),
 * so a key file needs nothing beside the private key.
 */
public final class DkimKey {
    /** RFC 8301: verifiers must refuse RSA keys under 1024 bits; 2048 is what we make. */
    static final int MIN_RSA_BITS = 1024;
    public static final int DEFAULT_RSA_BITS = 2048;

    private static final Pattern LABEL = Pattern.compile("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?");

    private final String domain;
    private final String selector;
    private final DkimAlgorithm algorithm;
    private final PrivateKey privateKey;
    private final byte[] publicKey;
    private final int bits;
    /** The Ed25519 key as Bouncy Castle signs with it (null for RSA); see {@link #ed25519()}. */
    private final Ed25519PrivateKeyParameters ed25519;

    /**
     * @param domain     the signing domain (d=), an IDN is turned into its A-labels
     * @param selector   the selector (s=)
     * @param privateKey an RSA (with its CRT parameters, as every PEM file has them) or Ed25519 key
     */
    public DkimKey(String domain, String selector, PrivateKey privateKey) {
        this.domain = name(domain, "domain");
        this.selector = name(selector, "selector");
        this.privateKey = privateKey;
        switch (privateKey.getAlgorithm()) {
            case "RSA" -> {
                if (!(privateKey instanceof RSAPrivateCrtKey rsa)) {
                    throw new IllegalArgumentException("RSA key without its public exponent (not a PKCS#1/PKCS#8 CRT key)");
                }
                this.algorithm = DkimAlgorithm.RSA_SHA256;
                this.bits = rsa.getModulus().bitLength();
                if (bits < MIN_RSA_BITS) {
                    throw new IllegalArgumentException("RSA key of " + bits + " bits; DKIM needs at least "
                            + MIN_RSA_BITS + " (RFC 8301), 2048 recommended");
                }
                this.publicKey = rsaPublic(rsa);
                this.ed25519 = null;
            }
            case "Ed25519", "EdDSA" -> {
                this.algorithm = DkimAlgorithm.ED25519_SHA256;
                this.bits = 256;
                this.ed25519 = ed25519Seed(privateKey);
                this.publicKey = ed25519.generatePublicKey().getEncoded();
            }
            default -> throw new IllegalArgumentException("a " + privateKey.getAlgorithm()
                    + " key cannot sign DKIM (RSA or Ed25519)");
        }
    }

    /** A new key: RSA of {@link #DEFAULT_RSA_BITS} bits, or Ed25519. */
    public static DkimKey generate(String domain, String selector, DkimAlgorithm algorithm) {
        return generate(domain, selector, algorithm, DEFAULT_RSA_BITS);
    }

    /** A new key; {@code rsaBits} is used for RSA only. */
    public static DkimKey generate(String domain, String selector, DkimAlgorithm algorithm, int rsaBits) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm.jcaName());
            if (algorithm == DkimAlgorithm.RSA_SHA256) {
                g.initialize(new RSAKeyGenParameterSpec(rsaBits, RSAKeyGenParameterSpec.F4));
            }
            return new DkimKey(domain, selector, g.generateKeyPair().getPrivate());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a " + algorithm.keyType() + " key: " + e.getMessage(), e);
        }
    }

    public String domain() {
        return domain;
    }

    public String selector() {
        return selector;
    }

    public DkimAlgorithm algorithm() {
        return algorithm;
    }

    /** The modulus size for RSA, 256 for Ed25519. */
    public int bits() {
        return bits;
    }

    /** The p= of the DNS record: base64 of the SubjectPublicKeyInfo (RSA) or of the raw 32-byte key (Ed25519). */
    public String publicKeyBase64() {
        return Base64.getEncoder().encodeToString(publicKey);
    }

    /** The name the DNS record lives at, {@code SELECTOR._domainkey.DOMAIN}. */
    public String recordName() {
        return selector + "._domainkey." + domain;
    }

    PrivateKey privateKey() {
        return privateKey;
    }

    @Override
    public String toString() {
        return "DkimKey[" + recordName() + ", " + algorithm.tag() + ", " + bits + " bits]";
    }

    /**
     * {@code s} as a key keeps it, for {@code what} ("domain" or "selector"): lower-case
     * A-labels without a final dot; IllegalArgumentException naming the problem otherwise.
     */
    public static String canonicalName(String s, String what) {
        return name(s, what);
    }

    private static String name(String s, String what) {
        String ascii;
        try {
            ascii = IDN.toASCII(s.strip(), IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad DKIM " + what + " '" + s + "'");
        }
        if (ascii.endsWith(".")) {
            ascii = ascii.substring(0, ascii.length() - 1);
        }
        if (ascii.isEmpty() || ascii.length() > 253) {
            throw new IllegalArgumentException("bad DKIM " + what + " '" + s + "'");
        }
        for (String label : ascii.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) {
                throw new IllegalArgumentException("bad DKIM " + what + " '" + s + "' (letters, digits, hyphens, dots)");
            }
        }
        return ascii;
    }

    private static byte[] rsaPublic(RSAPrivateCrtKey rsa) {
        try {
            return KeyFactory.getInstance("RSA")
                    .generatePublic(new RSAPublicKeySpec(rsa.getModulus(), rsa.getPublicExponent())).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("RSA key whose public half cannot be made");
        }
    }

    /**
     * Bouncy Castle's form of an Ed25519 key, for signing: the JDK 17 provider's Ed25519 took
     * about 0.7 ms per signature here (a 4 KB message then cost 1.5–3× the CPU of an unsigned
     * one), Bouncy Castle's a small fraction of that.
     */
    Ed25519PrivateKeyParameters ed25519() {
        return ed25519;
    }

    private static Ed25519PrivateKeyParameters ed25519Seed(PrivateKey key) {
        byte[] seed;
        try {
            // PKCS#8 holds the 32-byte seed as an OCTET STRING inside the privateKey OCTET STRING
            PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
            seed = ASN1OctetString.getInstance(info.parsePrivateKey()).getOctets();
        } catch (java.io.IOException | RuntimeException e) {
            throw new IllegalArgumentException("Ed25519 key whose encoding cannot be read");
        }
        if (seed.length != Ed25519PrivateKeyParameters.KEY_SIZE) {
            throw new IllegalArgumentException("Ed25519 key of " + seed.length + " bytes, not 32");
        }
        return new Ed25519PrivateKeyParameters(seed, 0);
    }
}
