package io.relay.node.smtpd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolException;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.relay.node.metrics.ConnectionResult;
import io.relay.node.metrics.RelayMetrics;
import io.relay.routing.NetworkSet;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides, per connection, whether a PROXY protocol header (v1 or v2, decoded by Netty's
 * {@link HAProxyMessageDecoder}) is believed, and makes the address it carries the client
 * address of the SMTP session (mynetworks, mail log, Received header, envelope).
 *
 * <p>Strategy. With {@code smtpd.proxy-protocol.required} (the default) the session's
 * {@code channelActive} (its 220 greeting) is held back until the header has been read; a peer
 * outside {@code smtpd.proxy-protocol.trusted-networks}, a malformed header, or no header within
 * {@code smtpd.timeout} closes the connection without a greeting. When not required, the session
 * greets at once and the first bytes are sniffed: a PROXY header from a trusted peer replaces
 * the client address before any command is read, one from any other peer closes the connection.
 * Every refusal is one WARN on this class's logger naming peer and reason, never a mail-log line.
 * A connection that closes before or right after its header, and a v2 {@code LOCAL} header
 * (load-balancer health checks) followed by a close, are quiet probes: only counted
 * ({@code relay_smtp_quiet_probes_total}) and logged at DEBUG. Refusals are counted in
 * {@code relay_smtp_connections_total} as {@code proxy_untrusted}, {@code proxy_malformed} or
 * {@code proxy_missing}.
 */
final class ProxyProtocolGate extends ChannelInboundHandlerAdapter {
    /** The address from the PROXY header, read by the session when it becomes active. */
    static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("relay.smtpd.proxy-client");

    /** Fired towards the session when an optional header arrives after the greeting. */
    record ProxiedClient(InetSocketAddress address) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(ProxyProtocolGate.class);

    private final NetworkSet trusted;
    private final boolean required;
    private final Duration headerTimeout;
    private final AtomicLong probes;
    private final RelayMetrics metrics;
    private final String listener;

    private InetSocketAddress peer;
    private boolean sessionStarted;
    private boolean refused;
    private ScheduledFuture<?> headerTimer;

    ProxyProtocolGate(NetworkSet trusted, boolean required, Duration headerTimeout, AtomicLong probes,
                      RelayMetrics metrics, String listener) {
        this.trusted = trusted;
        this.required = required;
        this.headerTimeout = headerTimeout;
        this.probes = probes;
        this.metrics = metrics;
        this.listener = listener;
    }

    /** Adds the PROXY stages for these settings after {@code after}; nothing when PROXY protocol is off. */
    static void install(io.netty.channel.ChannelPipeline pipeline, String after, ProxyProtocolSettings settings,
                        Duration headerTimeout, AtomicLong probes) {
        install(pipeline, after, settings, headerTimeout, probes, new RelayMetrics(new PrometheusRegistry(), false),
                "unknown");
    }

    /** As above, counting refusals and probes on {@code listener} in {@code metrics}. */
    static void install(io.netty.channel.ChannelPipeline pipeline, String after, ProxyProtocolSettings settings,
                        Duration headerTimeout, AtomicLong probes, RelayMetrics metrics, String listener) {
        if (!settings.enabled()) {
            return;
        }
        ProxyProtocolGate gate = new ProxyProtocolGate(settings.trusted(), settings.required(), headerTimeout, probes,
                metrics, listener);
        pipeline.addAfter(after, SmtpServer.PROXY,
                settings.required() ? new HAProxyMessageDecoder() : new HeaderSniffer(gate));
        pipeline.addAfter(SmtpServer.PROXY, SmtpServer.PROXY_GATE, gate);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        peer = ctx.channel().remoteAddress() instanceof InetSocketAddress isa ? isa : null;
        if (required) {
            if (!isTrusted()) {
                refuse(ctx, ConnectionResult.PROXY_UNTRUSTED,
                        "not in smtpd.proxy-protocol.trusted-networks; a PROXY header is required");
                return;
            }
            headerTimer = ctx.executor().schedule(() -> refuse(ctx, ConnectionResult.PROXY_MISSING,
                    "no PROXY header within " + headerTimeout),
                    headerTimeout.toMillis(), TimeUnit.MILLISECONDS);
            return;
        }
        startSession(ctx, null);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!(msg instanceof HAProxyMessage header)) {
            ctx.fireChannelRead(msg);
            return;
        }
        InetSocketAddress client;
        try {
            client = sourceOf(header);
        } finally {
            header.release();
        }
        cancelTimer();
        if (!sessionStarted) {
            startSession(ctx, client);
        } else if (client != null) {
            ctx.fireUserEventTriggered(new ProxiedClient(client));
        }
        ctx.pipeline().remove(this); // later bytes are SMTP
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable bad = null; // the innermost decoder complaint says what was wrong
        for (Throwable t = cause; t != null && t != t.getCause(); t = t.getCause()) {
            if (t instanceof HAProxyProtocolException) {
                bad = t;
            }
        }
        if (bad != null || !sessionStarted) {
            refuse(ctx, ConnectionResult.PROXY_MALFORMED,
                    "malformed PROXY header: " + (bad != null ? bad : cause).getMessage());
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelTimer();
        if (sessionStarted && !refused) {
            ctx.fireChannelInactive(); // the session decides between probe and mail-log lines
            return;
        }
        if (!refused) { // a TCP health check that closed before its header
            probes.incrementAndGet();
            metrics.quietProbe(listener);
            LOG.debug("connection from {} closed before a PROXY header (probe)", peerText());
        }
    }

    /** Closes the connection with one diagnostic line; nothing reaches the session. */
    void refuse(ChannelHandlerContext ctx, ConnectionResult result, String reason) {
        if (refused) {
            return;
        }
        refused = true;
        metrics.connectionRefused(listener, result);
        cancelTimer();
        LOG.warn("PROXY protocol: closing connection from {}: {}", peerText(), reason);
        ctx.close();
    }

    boolean isTrusted() {
        return peer != null && peer.getAddress() != null && trusted.contains(peer.getAddress());
    }

    private void startSession(ChannelHandlerContext ctx, InetSocketAddress client) {
        if (client != null) {
            ctx.channel().attr(CLIENT).set(client);
        }
        sessionStarted = true;
        ctx.fireChannelActive();
    }

    /** The proxied client, or null to keep the peer's address (v2 LOCAL, v1 UNKNOWN). */
    private static InetSocketAddress sourceOf(HAProxyMessage header) {
        if (header.command() != HAProxyCommand.PROXY || header.proxiedProtocol() == HAProxyProxiedProtocol.UNKNOWN
                || header.sourceAddress() == null) {
            return null;
        }
        InetAddress address = NetUtil.createInetAddressFromIpAddressString(header.sourceAddress());
        return address == null ? null : new InetSocketAddress(address, header.sourcePort());
    }

    private void cancelTimer() {
        if (headerTimer != null) {
            headerTimer.cancel(false);
            headerTimer = null;
        }
    }

    private String peerText() {
        return peer == null || peer.getAddress() == null ? "unknown" : peer.getAddress().getHostAddress();
    }

    /**
     * For optional PROXY protocol: looks at the first bytes; a PROXY header puts the decoder in
     * its place (trusted peer) or closes the connection (any other peer), anything else is SMTP.
     */
    static final class HeaderSniffer extends ByteToMessageDecoder {
        private static final byte[] V1 = "PROXY ".getBytes(StandardCharsets.US_ASCII);
        private static final byte[] V2 = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

        private final ProxyProtocolGate gate;

        HeaderSniffer(ProxyProtocolGate gate) {
            this.gate = gate;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            int v1 = prefixMatch(in, V1);
            int v2 = prefixMatch(in, V2);
            if (v1 < 0 && v2 < 0) {
                ctx.pipeline().remove(this); // plain SMTP: the buffered bytes go on to the framer
                return;
            }
            if (v1 < 1 && v2 < 1) {
                return; // still a prefix of a signature: wait for more bytes
            }
            ChannelHandlerContext gateCtx = ctx.pipeline().context(gate);
            if (!gate.isTrusted()) {
                in.skipBytes(in.readableBytes());
                gate.refuse(gateCtx, ConnectionResult.PROXY_UNTRUSTED,
                        "PROXY header from a peer outside smtpd.proxy-protocol.trusted-networks");
                return;
            }
            ctx.pipeline().addAfter(ctx.name(), SmtpServer.PROXY_DECODER, new HAProxyMessageDecoder());
            ctx.pipeline().remove(this);
        }

        /** 1 = starts with the signature, 0 = a prefix of it so far, -1 = differs. */
        private static int prefixMatch(ByteBuf in, byte[] signature) {
            int n = Math.min(in.readableBytes(), signature.length);
            int base = in.readerIndex();
            for (int i = 0; i < n; i++) {
                if (in.getByte(base + i) != signature[i]) {
                    return -1;
                }
            }
            return n == signature.length ? 1 : 0;
        }
    }
}
