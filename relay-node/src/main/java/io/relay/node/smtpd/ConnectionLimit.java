package io.relay.node.smtpd;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.relay.node.metrics.ConnectionResult;
import io.relay.node.metrics.RelayMetrics;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * First pipeline stage: counts open SMTP connections of the server and turns away those over
 * {@code smtpd.max-connections} with {@code 421 4.7.0 <host> Error: too many connections}
 * before the session sees them (so they write no mail log line; they are counted as
 * {@code connection_limit} in {@code relay_smtp_connections_total}).
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInboundHandlerAdapter {
    private final AtomicInteger open = new AtomicInteger();
    private final int max;
    private final String hostname;
    private final RelayMetrics metrics;

    ConnectionLimit(int max, String hostname, RelayMetrics metrics) {
        this.max = max;
        this.hostname = hostname;
        this.metrics = metrics;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        int now = open.incrementAndGet();
        ctx.channel().closeFuture().addListener(f -> open.decrementAndGet());
        if (now > max) {
            String listener = ctx.channel().attr(SmtpServer.LISTENER).get();
            metrics.connectionRefused(listener == null ? "unknown" : listener, ConnectionResult.CONNECTION_LIMIT);
            var p = ctx.pipeline();
            for (String name : new String[] {SmtpServer.PROXY, SmtpServer.PROXY_GATE, SmtpServer.CLIENT_LIMIT,
                    SmtpServer.IDLE, SmtpServer.FRAMER, SmtpServer.SESSION}) {
                if (p.get(name) != null) {
                    p.remove(name);
                }
            }
            ctx.writeAndFlush(Unpooled.copiedBuffer("421 4.7.0 " + hostname + " Error: too many connections\r\n",
                    StandardCharsets.US_ASCII)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.fireChannelActive();
    }

    int open() {
        return open.get();
    }
}
