package io.relay.node.tls;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The STARTTLS server certificate: a Netty {@link SslContext} limited to TLSv1.3 and
 * TLSv1.2, from the PEM files {@code smtpd.tls-cert-file} / {@code smtpd.tls-key-file}, or,
 * when none is configured, from a self-signed certificate for the host name (ECDSA P-256,
 * made with BouncyCastle) that is generated once into a directory the caller gives (the node
 * passes {@code <spool-dir>/tls}) and reused on later starts. The key file is created with
 * mode 0600 before any key byte is written.
 */
public final class TlsMaterial {
    public static final String CERT_FILE = "smtpd-cert.pem";
    public static final String KEY_FILE = "smtpd-key.pem";
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private TlsMaterial() {
    }

    /**
     * @param certFile      configured PEM certificate chain, or null
     * @param keyFile       configured PEM (PKCS#8) key, or null
     * @param hostname      the name for a generated certificate
     * @param selfSignedDir where a generated pair lives
     */
    public static SslContext serverContext(Path certFile, Path keyFile, String hostname, Path selfSignedDir) {
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException("smtpd.tls-cert-file and smtpd.tls-key-file must be set together");
        }
        if (certFile == null) {
            Path[] pair = selfSigned(hostname, selfSignedDir);
            certFile = pair[0];
            keyFile = pair[1];
        }
        try {
            return SslContextBuilder.forServer(certFile.toFile(), keyFile.toFile())
                    .protocols(PROTOCOLS)
                    .build();
        } catch (IOException | RuntimeException e) {
            // the message names the files, never their contents
            throw new IllegalArgumentException("cannot load TLS certificate " + certFile + " / key " + keyFile
                    + ": " + e.getClass().getSimpleName(), e);
        }
    }

    /**
     * The admin port's HTTPS context ({@code admin.tls.cert-file} / {@code admin.tls.key-file}),
     * limited to TLSv1.3 and TLSv1.2 as STARTTLS is. The error names the files, never their contents.
     */
    public static SslContext adminContext(Path certFile, Path keyFile) {
        try {
            return SslContextBuilder.forServer(certFile.toFile(), keyFile.toFile())
                    .protocols(PROTOCOLS)
                    .build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot load admin.tls certificate " + certFile + " / key " + keyFile
                    + ": " + e.getClass().getSimpleName(), e);
        }
    }

    /** Returns {cert, key} in {@code dir}, generating them on first use. */
    public static Path[] selfSigned(String hostname, Path dir) {
        Path cert = dir.resolve(CERT_FILE);
        Path key = dir.resolve(KEY_FILE);
        if (Files.isRegularFile(cert) && Files.isRegularFile(key)) {
            return new Path[] {cert, key};
        }
        try {
            Files.createDirectories(dir);
            KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
            gen.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            KeyPair pair = gen.generateKeyPair();
            X500Principal subject = new X500Principal("CN=" + hostname);
            Instant now = Instant.now();
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject,
                    new BigInteger(64, new SecureRandom()).abs().add(BigInteger.ONE),
                    Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(3650))),
                    subject, pair.getPublic());
            builder.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.dNSName, hostname)));
            X509Certificate x509 = new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())));
            // write both under temporary names, then move: a crash never leaves half a pair
            Path keyTmp = dir.resolve(KEY_FILE + ".tmp");
            Files.deleteIfExists(keyTmp);
            Files.createFile(keyTmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(keyTmp, pem("PRIVATE KEY", pair.getPrivate().getEncoded()), StandardOpenOption.TRUNCATE_EXISTING);
            Path certTmp = dir.resolve(CERT_FILE + ".tmp");
            Files.write(certTmp, pem("CERTIFICATE", x509.getEncoded()));
            Files.move(keyTmp, key, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(certTmp, cert, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return new Path[] {cert, key};
        } catch (FileAlreadyExistsException e) {
            throw new UncheckedIOException(e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a self-signed certificate in " + dir, e);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot generate a self-signed certificate", e);
        }
    }

    private static byte[] pem(String type, byte[] der) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return ("-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n")
                .getBytes(StandardCharsets.US_ASCII);
    }
}
