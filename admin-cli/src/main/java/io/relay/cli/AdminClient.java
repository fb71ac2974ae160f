package io.relay.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.admin.api.AdminApi;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * One node's admin API over {@link HttpClient}. Every failure becomes a {@link CliFailure}
 * whose one line says what went wrong and what to do. The token is sent only in the
 * Authorization header and never printed.
 */
final class AdminClient {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

    private final String node;
    private final URI base;
    private final String token;
    private final HttpClient http;

    private AdminClient(String node, URI base, String token, SSLContext tls) {
        this.node = node;
        this.base = base;
        this.token = token;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).version(HttpClient.Version.HTTP_1_1);
        if (tls != null) {
            SSLParameters params = tls.getDefaultSSLParameters();
            params.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
            b.sslContext(tls).sslParameters(params);
        }
        this.http = b.build();
    }

    /**
     * How to reach the admin port.
     *
     * @param https  use HTTPS when {@code --node} names no scheme ({@code --tls}, or a CA file given)
     * @param caFile PEM file of the CA(s) that signed the node's admin.tls certificate; null: the JDK's trust store
     */
    record Tls(boolean https, String caFile) {
    }

    static AdminClient connect(String node, String tokenFile) {
        return connect(node, tokenFile, new Tls(false, null));
    }

    static AdminClient connect(String node, String tokenFile, Tls tls) {
        String token;
        try {
            token = Files.readString(Path.of(tokenFile), StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            throw new CliFailure("token file " + tokenFile + " does not exist — check --token-file");
        } catch (IOException e) {
            throw new CliFailure("cannot read token file " + tokenFile + " (" + e.getClass().getSimpleName()
                    + ") — check --token-file and its permissions");
        }
        if (token.isEmpty()) {
            throw new CliFailure("token file " + tokenFile + " is empty — check --token-file");
        }
        URI base = base(node, tls.https());
        return new AdminClient(node, base, token, base.getScheme().equals("https") ? sslContext(tls.caFile()) : null);
    }

    /** Trusts the certificates of {@code caFile} (PEM), or the JDK's trust store when null. */
    static SSLContext sslContext(String caFile) {
        try {
            if (caFile == null || caFile.isBlank()) {
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(null, null, null);
                return ctx;
            }
            Collection<? extends Certificate> certs;
            try (InputStream in = Files.newInputStream(Path.of(caFile))) {
                certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
            } catch (NoSuchFileException e) {
                throw new CliFailure("CA file " + caFile + " does not exist — check --cacert or RELAYCTL_CACERT");
            } catch (IOException e) {
                throw new CliFailure("cannot read CA file " + caFile + " (" + e.getClass().getSimpleName()
                        + ") — check --cacert or RELAYCTL_CACERT");
            } catch (CertificateException e) {
                throw new CliFailure("CA file " + caFile + " is not PEM certificates — give the CA certificate"
                        + " that signed the node's admin.tls.cert-file");
            }
            if (certs.isEmpty()) {
                throw new CliFailure("CA file " + caFile + " holds no certificate — give the CA certificate"
                        + " that signed the node's admin.tls.cert-file");
            }
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            int i = 0;
            for (Certificate c : certs) {
                trust.setCertificateEntry("ca-" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new CliFailure("cannot set up TLS: " + e.getClass().getSimpleName());
        }
    }

    static URI base(String node) {
        return base(node, false);
    }

    /**
     * {@code host:port}, {@code [v6]:port} or a bare host (the default port 8025), optionally
     * with {@code https://} or {@code http://} in front; without a scheme, {@code https} decides.
     */
    static URI base(String node, boolean https) {
        String n = node.strip();
        String scheme = https ? "https" : "http";
        String lower = n.toLowerCase(java.util.Locale.ROOT);
        if (lower.startsWith("https://") || lower.startsWith("http://")) {
            scheme = lower.startsWith("https://") ? "https" : "http";
            n = n.substring(scheme.length() + 3);
            if (n.endsWith("/")) {
                n = n.substring(0, n.length() - 1);
            }
        }
        if (n.isEmpty()) {
            throw new CliFailure("--node is empty — give HOST:PORT, e.g. 127.0.0.1:8025");
        }
        boolean hasPort = n.startsWith("[") ? n.contains("]:") : n.indexOf(':') >= 0 && n.indexOf(':') == n.lastIndexOf(':');
        if (!n.startsWith("[") && n.indexOf(':') != n.lastIndexOf(':')) {
            n = "[" + n + "]"; // a bare IPv6 address
            hasPort = false;
        }
        try {
            URI uri = URI.create(scheme + "://" + n + (hasPort ? "" : ":8025") + "/");
            if (uri.getHost() == null || uri.getPort() < 1) {
                throw new IllegalArgumentException();
            }
            return uri;
        } catch (IllegalArgumentException e) {
            throw new CliFailure("--node " + node + " is not [https://]HOST:PORT — e.g. 127.0.0.1:8025");
        }
    }

    /** The node as given ({@code --node}). */
    String node() {
        return node;
    }

    <T> T get(String path, Class<T> type) {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET(), type);
    }

    <T> T post(String path, Object body, Class<T> type) {
        String json;
        try {
            json = JSON.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return send(HttpRequest.newBuilder(base.resolve(path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)), type);
    }

    /** The raw JSON text of the last answer is kept for --json. */
    private String lastBody;

    String lastBody() {
        return lastBody;
    }

    private <T> T send(HttpRequest.Builder request, Class<T> type) {
        HttpResponse<String> response;
        try {
            response = http.send(request.timeout(REQUEST_TIMEOUT).header("Authorization", "Bearer " + token)
                    .header("Accept", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        } catch (HttpConnectTimeoutException e) {
            throw new CliFailure("cannot reach " + node + ": connect timed out — is the node running, is admin.listen set?");
        } catch (ConnectException e) {
            throw new CliFailure("cannot reach " + node + ": connection refused — is the node running, is admin.listen set?");
        } catch (SSLException e) {
            throw new CliFailure(tlsFailure(e));
        } catch (HttpTimeoutException e) {
            throw new CliFailure("no answer from " + node + " within " + REQUEST_TIMEOUT.toSeconds()
                    + " s — check the node's log");
        } catch (IOException e) {
            if (base.getScheme().equals("https") && e.getMessage() != null
                    && e.getMessage().contains("closed")) {
                throw new CliFailure("TLS with " + node + " failed: the node closed the connection during the"
                        + " handshake — is it the admin port, with admin.tls set?");
            }
            throw new CliFailure("cannot talk to " + node + ": " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : " " + e.getMessage()) + " — is it the admin port (admin.listen)?");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliFailure("interrupted");
        }
        int status = response.statusCode();
        if (status == 401) {
            throw new CliFailure("401 unauthorized — check --token-file (it must hold the node's admin token)");
        }
        if (status != 200) {
            throw new CliFailure(errorLine(status, response.body()));
        }
        lastBody = response.body();
        try {
            return JSON.readValue(response.body(), type);
        } catch (JsonProcessingException e) {
            throw new CliFailure("unexpected answer from " + node + " — is it a relay node's admin port?");
        }
    }

    /** One line for a failed TLS handshake: an untrusted or misnamed certificate, or a port without TLS. */
    private String tlsFailure(SSLException e) {
        StringBuilder chain = new StringBuilder();
        boolean certificate = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            chain.append(' ').append(t.getMessage());
            certificate |= t instanceof CertificateException || t instanceof java.security.cert.CertPathValidatorException
                    || t instanceof java.security.cert.CertPathBuilderException;
        }
        String text = chain.toString();
        if (text.contains("No subject alternative") || text.contains("No name matching")) {
            return "the certificate of " + node + " does not name " + base.getHost()
                    + " — connect by a name or address the certificate holds, or reissue it with this one";
        }
        if (certificate || text.contains("PKIX") || text.contains("certificate")) {
            return "the certificate of " + node + " is not trusted — pass --cacert FILE (or RELAYCTL_CACERT)"
                    + " with the CA that signed the node's admin.tls.cert-file";
        }
        if (text.contains("plaintext") || text.contains("Unsupported or unrecognized SSL message")) {
            return node + " does not speak TLS — drop https:// and --tls, or set admin.tls on the node";
        }
        return "TLS with " + node + " failed: " + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : " " + e.getMessage()) + " — check admin.tls on the node";
    }

    private String errorLine(int status, String body) {
        if (status == 413) {
            return "the request is larger than " + node + " takes (64 KiB) — send it in parts";
        }
        String reason;
        try {
            reason = JSON.readValue(body, AdminApi.ApiError.class).error();
        } catch (JsonProcessingException | RuntimeException e) {
            reason = null;
        }
        if (reason == null) {
            return status + " from " + node + " — is it a relay node's admin port?";
        }
        return switch (status) {
            case 400 -> reason;
            case 404 -> reason + " — the node may run an older version than relayctl";
            default -> status + " from " + node + ": " + reason;
        };
    }
}
