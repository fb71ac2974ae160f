package io.relay.node.smtpd;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * First pipeline stage: counts open SMTP connections of the server and turns away those over
 * {@code smtpd.max-connections} with {@code 421 4.7.0 <host> Error: too many connections}
 * before the session sees them (so they write no mail log line).
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInboundHandlerAdapter {
    private final AtomicInteger open = new AtomicInteger();
    private final int max;
    private final String hostname;

    ConnectionLimit(int max, String hostname) {
        this.max = max;
        this.hostname = hostname;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        int now = open.incrementAndGet();
        ctx.channel().closeFuture().addListener(f -> open.decrementAndGet());
        if (now > max) {
            var p = ctx.pipeline();
            for (String name : new String[] {SmtpServer.PROXY, SmtpServer.PROXY_GATE, SmtpServer.IDLE, SmtpServer.FRAMER, SmtpServer.SESSION}) {
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
