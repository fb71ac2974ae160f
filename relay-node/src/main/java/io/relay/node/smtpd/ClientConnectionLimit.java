package io.relay.node.smtpd;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.ConnectionResult;
import io.relay.node.metrics.RelayMetrics;
import io.relay.routing.NetworkSet;
import io.relay.routing.RelayPolicy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Pipeline stage after the PROXY gate: one client address may hold at most
 * {@code smtpd.client-connection-limit} connections (Postfix's
 * {@code smtpd_client_connection_count_limit}), so one outside host cannot take every slot of
 * {@code smtpd.max-connections}. Over the limit the client gets
 * {@code 421 4.7.0 <host> Error: too many connections from <addr>}, the connection is closed, and
 * the mail log says {@code warning: Connection concurrency limit exceeded: 51 from unknown[addr]
 * for service smtp}; counted as {@code client_limit} in {@code relay_smtp_connections_total}.
 *
 * <p>Strategy. The count is taken on the client address the session will use: the PROXY source
 * once the gate has decoded the header (it holds {@code channelActive} back until then when the
 * header is required; with an optional header it arrives as a {@link ProxyProtocolGate.ProxiedClient}
 * event). Exempt, as Postfix's {@code smtpd_client_event_limit_exceptions = $mynetworks}: clients
 * in mynetworks (looked up at connect, so admin changes apply to new connections), and a
 * load balancer's own connection (a peer in {@code smtpd.proxy-protocol.trusted-networks} that
 * gave no client address: health checks, v2 LOCAL). The count of a connection is released when
 * its channel closes, whatever closed it.
 */
final class ClientConnectionLimit extends ChannelInboundHandlerAdapter {

    /** The open connections per client address of one server, shared by its channels. */
    static final class Counts {
        private final ConcurrentHashMap<InetAddress, Integer> open = new ConcurrentHashMap<>();

        /** Counts one more connection of {@code client}; returns the count including it. */
        int acquire(InetAddress client) {
            return open.merge(client, 1, Integer::sum);
        }

        void release(InetAddress client) {
            open.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1); // no entry left for a gone client
        }

        int open(InetAddress client) {
            return open.getOrDefault(client, 0);
        }
    }

    private final Counts counts;
    private final int limit;
    private final RelayPolicy policy;
    private final NetworkSet loadBalancers;
    private final String hostname;
    private final MailLog mailLog;
    private final RelayMetrics metrics;
    private final String listener;

    private InetAddress counted;
    private boolean refused;

    /**
     * @param loadBalancers {@code smtpd.proxy-protocol.trusted-networks}; empty when PROXY protocol is off
     */
    ClientConnectionLimit(Counts counts, int limit, RelayPolicy policy, NetworkSet loadBalancers, String hostname,
                          MailLog mailLog, RelayMetrics metrics, String listener) {
        this.counts = counts;
        this.limit = limit;
        this.policy = policy;
        this.loadBalancers = loadBalancers;
        this.hostname = hostname;
        this.mailLog = mailLog;
        this.metrics = metrics;
        this.listener = listener;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetSocketAddress proxied = ctx.channel().attr(ProxyProtocolGate.CLIENT).get();
        InetAddress client = proxied != null ? proxied.getAddress() : peer(ctx);
        boolean loadBalancer = proxied == null && client != null && loadBalancers.contains(client);
        if (loadBalancer || admit(ctx, client, false)) {
            ctx.fireChannelActive();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        // an optional PROXY header after the greeting: the load balancer's connection (not
        // counted) now carries a client
        if (evt instanceof ProxyProtocolGate.ProxiedClient p && counted == null
                && !admit(ctx, p.address().getAddress(), true)) {
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) { // what the client sends after our 421 reaches no command handler
            ReferenceCountUtil.release(msg);
            return;
        }
        ctx.fireChannelRead(msg);
    }

    /** Counts the connection on {@code client}; false when it was refused. */
    private boolean admit(ChannelHandlerContext ctx, InetAddress client, boolean sessionStarted) {
        if (client == null || policy.trustedClient(client)) {
            return true;
        }
        counted = client;
        int now = counts.acquire(client);
        ctx.channel().closeFuture().addListener(f -> counts.release(client));
        if (now <= limit) {
            return true;
        }
        String ip = client.getHostAddress();
        metrics.connectionRefused(listener, ConnectionResult.CLIENT_LIMIT);
        mailLog.warning("smtpd", "Connection concurrency limit exceeded: " + now + " from unknown[" + ip
                + "] for service smtp");
        refused = true;
        if (!sessionStarted) { // once it has greeted, the session stays to close its own books
            var p = ctx.pipeline();
            for (String name : new String[] {SmtpServer.IDLE, SmtpServer.FRAMER, SmtpServer.SESSION}) {
                if (p.get(name) != null) {
                    p.remove(name);
                }
            }
        }
        ctx.writeAndFlush(Unpooled.copiedBuffer("421 4.7.0 " + hostname + " Error: too many connections from " + ip
                + "\r\n", StandardCharsets.US_ASCII)).addListener(ChannelFutureListener.CLOSE);
        return false;
    }

    private static InetAddress peer(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress isa ? isa.getAddress() : null;
    }
}
