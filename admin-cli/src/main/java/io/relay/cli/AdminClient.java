package io.relay.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
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
import java.time.Duration;

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

    private AdminClient(String node, URI base, String token) {
        this.node = node;
        this.base = base;
        this.token = token;
        this.http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).build();
    }

    static AdminClient connect(String node, String tokenFile) {
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
        return new AdminClient(node, base(node), token);
    }

    /** {@code host:port}, {@code [v6]:port} or a bare host (the default port 8025). */
    static URI base(String node) {
        String n = node.strip();
        if (n.isEmpty()) {
            throw new CliFailure("--node is empty — give HOST:PORT, e.g. 127.0.0.1:8025");
        }
        boolean hasPort = n.startsWith("[") ? n.contains("]:") : n.indexOf(':') >= 0 && n.indexOf(':') == n.lastIndexOf(':');
        if (!n.startsWith("[") && n.indexOf(':') != n.lastIndexOf(':')) {
            n = "[" + n + "]"; // a bare IPv6 address
            hasPort = false;
        }
        try {
            URI uri = URI.create("http://" + n + (hasPort ? "" : ":8025") + "/");
            if (uri.getHost() == null || uri.getPort() < 1) {
                throw new IllegalArgumentException();
            }
            return uri;
        } catch (IllegalArgumentException e) {
            throw new CliFailure("--node " + node + " is not HOST:PORT — e.g. 127.0.0.1:8025");
        }
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
        } catch (HttpTimeoutException e) {
            throw new CliFailure("no answer from " + node + " within " + REQUEST_TIMEOUT.toSeconds()
                    + " s — check the node's log");
        } catch (IOException e) {
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

    private String errorLine(int status, String body) {
        String reason;
        try {
            reason = JSON.readValue(body, ApiRecords.ApiError.class).error();
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
