package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.relay.node.config.ConfigException;
import io.relay.node.config.ConfigLoader;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.RelayMetrics;
import io.relay.node.testing.ServerLine;
import io.relay.routing.NetworkSet;
import io.relay.routing.RelayPolicy;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-client connection limit on a real server: the optional-PROXY path, "off", the key's check. */
class ClientConnectionLimitTest {
    @TempDir
    Path dir;
    private final ExecutorService executor = Executors.newFixedThreadPool(1);
    private final List<Socket> open = new ArrayList<>();
    private SmtpServer server;

    @AfterEach
    void stop() throws IOException {
        for (Socket s : open) {
            s.close();
        }
        if (server != null) {
            server.close();
        }
        executor.shutdownNow();
    }

    private int start(int limit, ProxyProtocolSettings proxy) throws Exception {
        SmtpdSettings settings = new SmtpdSettings("relay.test", List.of(new InetSocketAddress("127.0.0.1", 0)),
                1 << 20, 100, 2048, Duration.ofSeconds(30), 100, 50, SmtpdSettings.DEFAULT_HARD_ERROR_LIMIT, proxy)
                .withClientConnectionLimit(limit);
        server = new SmtpServer(settings, new RelayPolicy(NetworkSet.parse(List.of("127.0.0.1/32")), Set.of()),
                new InMemoryQueue(), MailLog.open(dir.resolve("mail.log"), "relay", "relay.test"), executor, null,
                new RelayMetrics(new PrometheusRegistry(), false));
        server.start();
        return server.boundAddresses().get(0).getPort();
    }

    private Socket connect(String from, int port) throws IOException {
        Socket s = new Socket();
        open.add(s);
        s.bind(new InetSocketAddress(from, 0));
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
        s.setSoTimeout(5000);
        return s;
    }

    @Test
    void anOptionalHeaderAfterTheGreetingIsCountedOnItsSource() throws Exception {
        int port = start(2, new ProxyProtocolSettings(List.of("127.0.0.3/32"), false));
        for (int i = 0; i < 3; i++) { // the balancer's own connections: greeted at once, not counted
            assertEquals("220 relay.test ESMTP", ServerLine.next(connect("127.0.0.3", port)));
        }
        for (int i = 0; i < 3; i++) {
            Socket s = connect("127.0.0.3", port);
            assertEquals("220 relay.test ESMTP", ServerLine.next(s));
            s.getOutputStream().write(("PROXY TCP4 198.51.100.7 127.0.0.1 " + (40000 + i) + " 25\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            if (i < 2) {
                s.getOutputStream().write("NOOP\r\n".getBytes(StandardCharsets.US_ASCII));
                assertEquals("250 2.0.0 Ok", ServerLine.next(s));
            } else {
                assertEquals("421 4.7.0 relay.test Error: too many connections from 198.51.100.7", ServerLine.next(s));
                assertEquals(-1, s.getInputStream().read(), "closed after the 421");
            }
        }
        // a direct client outside mynetworks is counted on its own address
        assertEquals("220 relay.test ESMTP", ServerLine.next(connect("127.0.0.2", port)));
        assertEquals("220 relay.test ESMTP", ServerLine.next(connect("127.0.0.2", port)));
        assertTrue(ServerLine.next(connect("127.0.0.2", port)).startsWith("421 4.7.0 relay.test Error: too many connections"));
    }

    @Test
    void zeroTurnsTheLimitOff() throws Exception {
        int port = start(0, ProxyProtocolSettings.OFF);
        for (int i = 0; i < 60; i++) {
            assertEquals("220 relay.test ESMTP", ServerLine.next(connect("127.0.0.2", port)));
        }
    }

    @Test
    void aNegativeLimitNamesTheKey() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("smtpd:\n  client-connection-limit: -1\n", "relay.yaml"));
        assertTrue(e.getMessage().contains("smtpd.client-connection-limit"), e.getMessage());
        assertEquals(50, ConfigLoader.parse("smtpd:\n  hostname: mx.example\n", "relay.yaml").smtpd.clientConnectionLimit);
    }
}
