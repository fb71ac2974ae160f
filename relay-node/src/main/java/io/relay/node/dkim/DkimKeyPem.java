package io.relay.node.dkim;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * DKIM private keys as PEM text: read from PKCS#8 ({@code BEGIN PRIVATE KEY}, what OpenSSL 3
 * and we write) or PKCS#1 ({@code BEGIN RSA PRIVATE KEY}, what older opendkim-genkey and
 * {@code openssl genrsa -traditional} write), and written as PKCS#8.
 *
 * <p>Bouncy Castle's PEMParser reads the armour (both kinds, and it tells encrypted keys
 * apart); the key itself is then made by the JDK's KeyFactory, so signing is the JDK's.
 * A broken file is one line naming the file and the problem; neither the message nor a
 * chained cause carries the file's bytes.
 */
public final class DkimKeyPem {
    private DkimKeyPem() {
    }

    /** The key in {@code file}, for {@code domain} under {@code selector}. */
    public static DkimKey read(Path file, String domain, String selector) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("DKIM key " + file + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException("DKIM key " + file + ": cannot read (" + e.getClass().getSimpleName() + ")");
        }
        try {
            return new DkimKey(domain, selector, parse(text));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("DKIM key " + file + ": " + e.getMessage());
        }
    }

    /**
     * The key in PEM {@code text} (as {@link #write} made it), for {@code domain} under
     * {@code selector}: for keys kept elsewhere than in a file, such as the cluster's sealed
     * keys. Problems are one line without the key's bytes.
     */
    public static DkimKey read(String text, String domain, String selector) {
        return new DkimKey(domain, selector, parse(text));
    }

    /** The private key in PEM {@code text}; problems are one line without the key's bytes. */
    static PrivateKey parse(String text) {
        Object o;
        try (Reader r = new StringReader(text); PEMParser p = new PEMParser(r)) {
            o = p.readObject();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("not a readable PEM key (bad base64 or DER inside the BEGIN/END lines)");
        }
        PrivateKeyInfo info;
        if (o == null) {
            throw new IllegalArgumentException("no PEM private key in the file (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)");
        } else if (o instanceof PrivateKeyInfo i) {
            info = i;
        } else if (o instanceof PEMKeyPair pair) {
            info = pair.getPrivateKeyInfo();
        } else if (o instanceof PKCS8EncryptedPrivateKeyInfo || o instanceof PEMEncryptedKeyPair) {
            throw new IllegalArgumentException("the key is encrypted with a passphrase; store it unencrypted "
                    + "(openssl pkey -in IN -out OUT) and protect the file instead");
        } else {
            throw new IllegalArgumentException("not a private key (found " + o.getClass().getSimpleName() + ")");
        }
        ASN1ObjectIdentifier oid = info.getPrivateKeyAlgorithm().getAlgorithm();
        String jca;
        if (PKCSObjectIdentifiers.rsaEncryption.equals(oid)) {
            jca = "RSA";
        } else if (EdECObjectIdentifiers.id_Ed25519.equals(oid)) {
            jca = "Ed25519";
        } else {
            throw new IllegalArgumentException("a key of type " + oid.getId() + " cannot sign DKIM (RSA or Ed25519)");
        }
        try {
            return KeyFactory.getInstance(jca).generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("a damaged " + jca + " key (its DER does not parse)");
        }
    }

    /** {@code key}'s private key as PKCS#8 PEM, for a file the operator protects (mode 0600). */
    public static String write(DkimKey key) {
        String b64 = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(key.privateKey().getEncoded());
        return "-----BEGIN PRIVATE KEY-----\n" + b64 + "\n-----END PRIVATE KEY-----\n";
    }
}
