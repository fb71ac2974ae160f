package io.relay.node.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A self-signed certificate and key (PEM) for an upstream's STARTTLS, made with openssl.
 * The certificate is its own CA, so {@link #certPem()} doubles as a tls-ca-file.
 */
public record UpstreamCertificate(Path certPem, Path keyPem) {

    /** @param subjectAltName e.g. "DNS:localhost" or "DNS:other.test,IP:127.0.0.1" */
    public static UpstreamCertificate create(Path dir, String name, String subjectAltName)
            throws IOException, InterruptedException {
        Tools.require(Tools.OPENSSL);
        Path cert = dir.resolve(name + ".crt");
        Path key = dir.resolve(name + ".key");
        Process p = new ProcessBuilder(Tools.OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=" + name,
                "-addext", "subjectAltName=" + subjectAltName, "-addext", "basicConstraints=critical,CA:TRUE")
                .redirectErrorStream(true).redirectOutput(dir.resolve(name + ".openssl.out").toFile()).start();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("openssl req failed for " + name);
            }
        } finally {
            p.destroyForcibly();
        }
        return new UpstreamCertificate(cert, key);
    }
}
