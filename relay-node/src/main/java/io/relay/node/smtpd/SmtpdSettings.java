package io.relay.node.smtpd;

import io.relay.node.config.HostPort;
import io.relay.node.config.RelayConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/**
 * The inbound server's settings, taken from {@code smtpd.*} plus the resolved host name.
 *
 * @param hardErrorLimit Postfix's smtpd_hard_error_limit (20): after that many errors the session ends with 421
 * @param ioThreads      event-loop threads of the listeners ({@code smtpd.io-threads}); 0: see {@link #eventLoopThreads}
 * @param bareNewline    {@code smtpd.forbid-bare-newline}
 * @param receiveMemoryLimit {@code smtpd.receive-memory-limit}, bytes; 0: derived from the heap, see {@link ReceiveMemory#of}
 * @param clientConnectionLimit concurrent connections per client address outside mynetworks
 *                       ({@code smtpd.client-connection-limit}, Postfix's
 *                       smtpd_client_connection_count_limit); 0: no limit
 */
public record SmtpdSettings(String hostname, List<InetSocketAddress> listen, long messageSizeLimit,
                            int recipientLimit, int lineLengthLimit, Duration timeout, int maxConnections,
                            int hopcountLimit, int hardErrorLimit, ProxyProtocolSettings proxyProtocol,
                            int ioThreads, BareNewline bareNewline, long receiveMemoryLimit,
                            int clientConnectionLimit) {
    public static final int DEFAULT_HARD_ERROR_LIMIT = 20;
    public static final int DEFAULT_CLIENT_CONNECTION_LIMIT = 50;

    public SmtpdSettings {
        listen = List.copyOf(listen);
        proxyProtocol = proxyProtocol == null ? ProxyProtocolSettings.OFF : proxyProtocol;
        bareNewline = bareNewline == null ? BareNewline.NORMALIZE : bareNewline;
    }

    /**
     * Settings with the default event-loop threads, bare-newline handling, receive budget and
     * per-client connection limit.
     */
    public SmtpdSettings(String hostname, List<InetSocketAddress> listen, long messageSizeLimit,
                         int recipientLimit, int lineLengthLimit, Duration timeout, int maxConnections,
                         int hopcountLimit, int hardErrorLimit, ProxyProtocolSettings proxyProtocol) {
        this(hostname, listen, messageSizeLimit, recipientLimit, lineLengthLimit, timeout, maxConnections,
                hopcountLimit, hardErrorLimit, proxyProtocol, 0, BareNewline.NORMALIZE, 0,
                DEFAULT_CLIENT_CONNECTION_LIMIT);
    }

    /** Settings without PROXY protocol. */
    public SmtpdSettings(String hostname, List<InetSocketAddress> listen, long messageSizeLimit,
                         int recipientLimit, int lineLengthLimit, Duration timeout, int maxConnections,
                         int hopcountLimit, int hardErrorLimit) {
        this(hostname, listen, messageSizeLimit, recipientLimit, lineLengthLimit, timeout, maxConnections,
                hopcountLimit, hardErrorLimit, ProxyProtocolSettings.OFF);
    }

    /** The same settings with another per-client connection limit. */
    public SmtpdSettings withClientConnectionLimit(int limit) {
        return new SmtpdSettings(hostname, listen, messageSizeLimit, recipientLimit, lineLengthLimit, timeout,
                maxConnections, hopcountLimit, hardErrorLimit, proxyProtocol, ioThreads, bareNewline,
                receiveMemoryLimit, limit);
    }

    /**
     * The event-loop threads to run: {@code ioThreads}, or half the available cores (at least
     * one) when it is 0. Netty's own default, two per core, left a 2-core node with four loops
     * each woken for a fraction of the sessions: fewer loops do more per wake-up (measured
     * with the benchmark's scenarios a and d).
     */
    public int eventLoopThreads() {
        return ioThreads > 0 ? ioThreads : Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    public static SmtpdSettings from(RelayConfig.Smtpd smtpd, String hostname) {
        return new SmtpdSettings(hostname,
                smtpd.listen.stream().map(HostPort::toSocketAddress).toList(),
                smtpd.messageSizeLimit, smtpd.recipientLimit, smtpd.lineLengthLimit, smtpd.timeout,
                smtpd.maxConnections, smtpd.hopcountLimit, DEFAULT_HARD_ERROR_LIMIT,
                ProxyProtocolSettings.from(smtpd.proxyProtocol), smtpd.ioThreads,
                BareNewline.parse(smtpd.forbidBareNewline), smtpd.receiveMemoryLimit, smtpd.clientConnectionLimit);
    }
}
