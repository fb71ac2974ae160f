package io.relay.node.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin port's idle timeout closes connections that send nothing, but never one whose
 * request is still being answered: a {@code queue retry --all} on 200k messages outlasted
 * the 60 s timeout and had its connection cut while the work went on.
 */
class AdminIdleTimeoutTest {
    private static final String SECRET = "idle-test-token-0123456789";

    /** Answers after {@code millis}, as a long queue operation does. */
    private record Slow(long millis) implements AdminRequestHandler.Endpoint {
        @Override
        public String prefix() {
            return "/admin/v1/slow";
        }

        @Override
        public Object handle(HttpMethod method, String path, QueryStringDecoder query, String body, String client) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Map.of("done", true);
        }
    }

    @Test
    void aRequestLongerThanTheIdleTimeoutIsAnsweredAndAnIdleConnectionIsClosed(@TempDir Path dir) throws Exception {
        Path tokenFile = Files.writeString(dir.resolve("token"), SECRET);
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        AdminToken token = AdminToken.load(tokenFile);
        try (AdminServer server = new AdminServer(new AdminServer.Listener(new InetSocketAddress("127.0.0.1", 0), token,
                null, 1), new AdminRequestHandler.Routes(token, null, null, List.of(new Slow(2_500))), null)) {
            server.start();
            InetSocketAddress at = server.boundAddress();
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + at.getPort()
                    + "/admin/v1/slow")).header("Authorization", "Bearer " + SECRET).timeout(Duration.ofSeconds(20))
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"done\""), r.body());

            // a connection that sends nothing is still closed after the idle timeout
            try (Socket idle = new Socket()) {
                idle.connect(at, 2_000);
                idle.setSoTimeout(10_000);
                long t0 = System.nanoTime();
                InputStream in = idle.getInputStream();
                int first = readOrEnd(in);
                long waited = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(-1, first, "the server closed the idle connection");
                assertTrue(waited >= 800 && waited < 9_000, "closed after " + waited + " ms");
            }
        }
    }

    private static int readOrEnd(InputStream in) {
        try {
            return in.read();
        } catch (IOException e) {
            return -1; // a reset is a close too
        }
    }
}
