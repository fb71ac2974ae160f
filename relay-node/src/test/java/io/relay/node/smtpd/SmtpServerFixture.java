package io.relay.node.smtpd;

import io.netty.handler.ssl.SslContext;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.RelayMetrics;
import io.relay.node.tls.TlsMaterial;
import io.relay.routing.NetworkSet;
import io.relay.routing.RelayPolicy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/** A real SmtpServer on loopback port 0 with the in-memory queue and a mail log file. */
final class SmtpServerFixture implements AutoCloseable {
    static final String HOST = "relay.test";

    final InMemoryQueue queue = new InMemoryQueue();
    final Path mailLog;
    final SmtpServer server;
    final RelayMetrics metrics;
    private final ExecutorService executor = Executors.newFixedThreadPool(2);

    record Options(String listenHost, List<String> mynetworks, long sizeLimit, int recipientLimit,
                   Duration timeout, int maxConnections, boolean tls) {
        static Options defaults() {
            return new Options("127.0.0.1", List.of("127.0.0.1/32"), 10L * 1024 * 1024, 1000,
                    Duration.ofSeconds(300), 500, true);
        }

        Options sizeLimit(long n) {
            return new Options(listenHost, mynetworks, n, recipientLimit, timeout, maxConnections, tls);
        }

        Options timeout(Duration d) {
            return new Options(listenHost, mynetworks, sizeLimit, recipientLimit, d, maxConnections, tls);
        }

        Options maxConnections(int n) {
            return new Options(listenHost, mynetworks, sizeLimit, recipientLimit, timeout, n, tls);
        }

        Options relayDeniedOn(String host, String networks) {
            return new Options(host, List.of(networks), sizeLimit, recipientLimit, timeout, maxConnections, tls);
        }
    }

    SmtpServerFixture(Path dir, Options o) throws Exception {
        this(dir, o, ProxyProtocolSettings.OFF);
    }

    SmtpServerFixture(Path dir, Options o, ProxyProtocolSettings proxy) throws Exception {
        this(dir, o, proxy, null, SaslServices.NONE, null);
    }

    /**
     * One listener of {@code role} (AUTH offered on it when {@code authOffered}) with these
     * users, failure counts and rates.
     */
    SmtpServerFixture(Path dir, Options o, ListenerRole role, boolean authOffered, SaslServices sasl) throws Exception {
        this(dir, o, ProxyProtocolSettings.OFF, role, sasl, authOffered);
    }

    /** As above, behind a load balancer that sends a PROXY header. */
    SmtpServerFixture(Path dir, Options o, ProxyProtocolSettings proxy, ListenerRole role, SaslServices sasl)
            throws Exception {
        this(dir, o, proxy, role, sasl, Boolean.TRUE);
    }

    private SmtpServerFixture(Path dir, Options o, ProxyProtocolSettings proxy, ListenerRole role, SaslServices sasl,
                              Boolean authOffered) throws Exception {
        mailLog = dir.resolve("mail.log");
        SmtpdSettings settings = new SmtpdSettings(HOST, List.of(new InetSocketAddress(o.listenHost(), 0)),
                o.sizeLimit(), o.recipientLimit(), 2048, o.timeout(), o.maxConnections(), 50,
                SmtpdSettings.DEFAULT_HARD_ERROR_LIMIT, proxy);
        SslContext ssl = o.tls() ? TlsMaterial.serverContext(null, null, HOST, dir.resolve("tls")) : null;
        metrics = new RelayMetrics(new PrometheusRegistry(), false);
        List<SmtpListener> listeners = role == null ? SmtpListener.mta(settings.listen())
                : List.of(new SmtpListener(settings.listen().get(0), role, authOffered));
        server = new SmtpServer(settings, listeners, sasl, new RelayPolicy(NetworkSet.parse(o.mynetworks()), Set.of()),
                queue, MailLog.open(mailLog, "relay", HOST), executor, ssl, metrics);
        server.start();
    }

    InetSocketAddress address() {
        return server.boundAddresses().get(0);
    }

    SmtpClient client() throws IOException {
        SmtpClient c = new SmtpClient(address());
        c.expect("220 " + HOST + " ESMTP");
        return c;
    }

    String log() throws IOException {
        return Files.exists(mailLog) ? Files.readString(mailLog) : "";
    }

    /** Polls until the condition holds, at most 5 s. */
    static boolean await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(20);
        }
        return condition.getAsBoolean();
    }

    String awaitLog(String fragment) throws Exception {
        await(() -> {
            try {
                return log().contains(fragment);
            } catch (IOException e) {
                return false;
            }
        });
        return log();
    }

    @Override
    public void close() {
        server.close();
        executor.shutdownNow();
    }
}
