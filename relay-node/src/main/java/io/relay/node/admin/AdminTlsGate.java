package io.relay.node.admin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The first stage on an admin port with {@code admin.tls}: looks at the first bytes of a
 * connection and puts the TLS handler in its place when they are a TLS record; a client
 * that speaks plain HTTP instead gets one plain {@code 400} answer saying to use https
 * (relayctl prints it as its one line) and the connection is closed. Nothing but TLS is
 * ever served on such a port.
 */
final class AdminTlsGate extends ByteToMessageDecoder {
    static final String STAGE = "tls-gate";
    static final String STAGE_TLS = "tls";
    private static final byte[] PLAIN_ANSWER = ("HTTP/1.1 400 Bad Request\r\n"
            + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s").formatted(
            body().length(), body()).getBytes(StandardCharsets.US_ASCII);

    private final SslContext tls;

    AdminTlsGate(SslContext tls) {
        this.tls = tls;
    }

    private static String body() {
        return "{\"error\":\"this admin port speaks HTTPS only (admin.tls): use --node https://HOST:PORT"
                + " or --tls, with --cacert FILE\"}";
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (in.readableBytes() < 5) {
            return; // a TLS record header is 5 bytes
        }
        if (SslHandler.isEncrypted(in, false)) {
            ctx.pipeline().replace(this, STAGE_TLS, tls.newHandler(ctx.alloc()));
        } else {
            in.skipBytes(in.readableBytes());
            ctx.writeAndFlush(Unpooled.wrappedBuffer(PLAIN_ANSWER)).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
