package io.relay.node.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsMaterialTest {
    @TempDir
    Path dir;

    @Test
    void generatesSelfSignedOnceWithPrivateKeyFileAndReusesIt() throws Exception {
        Path tls = dir.resolve("tls");
        SslContext ctx = TlsMaterial.serverContext(null, null, "relay.test", tls);
        Path cert = tls.resolve(TlsMaterial.CERT_FILE);
        Path key = tls.resolve(TlsMaterial.KEY_FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
        X509Certificate x509 = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(cert)));
        assertEquals("CN=relay.test", x509.getSubjectX500Principal().getName());
        assertTrue(x509.getSubjectAlternativeNames().contains(List.of(2, "relay.test")));
        byte[] before = Files.readAllBytes(cert);
        TlsMaterial.serverContext(null, null, "relay.test", tls);
        assertArrayEquals(before, Files.readAllBytes(cert), "second start reuses the stored pair");

        SSLEngine engine = ctx.newEngine(ByteBufAllocator.DEFAULT);
        assertEquals(Set.of("TLSv1.3", "TLSv1.2"), Set.of(engine.getEnabledProtocols()));
    }

    @Test
    void loadsConfiguredPemFiles() throws Exception {
        Path[] pair = TlsMaterial.selfSigned("mx.example", dir.resolve("elsewhere"));
        SslContext ctx = TlsMaterial.serverContext(pair[0], pair[1], "ignored", dir.resolve("unused"));
        assertTrue(ctx.isServer());
        assertTrue(Files.notExists(dir.resolve("unused")));
    }

    @Test
    void certWithoutKeyIsRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> TlsMaterial.serverContext(dir.resolve("c.pem"), null, "h", dir));
    }
}
