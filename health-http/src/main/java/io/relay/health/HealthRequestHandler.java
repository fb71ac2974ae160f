package io.relay.health;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one aggregated request into one response. Runs on the health worker group (see
 * {@link HealthServer}), so checks and metric callbacks may block briefly.
 */
final class HealthRequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

    // Separate from the mail log on purpose: probes every few seconds would drown it.
    private static final Logger ACCESS = LoggerFactory.getLogger("health.access");
    private static final Logger LOG = LoggerFactory.getLogger(HealthRequestHandler.class);

    private final HealthEndpoints endpoints;

    HealthRequestHandler(HealthEndpoints endpoints) {
        this.endpoints = endpoints;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        if (!req.decoderResult().isSuccess()) {
            // Oversized or garbled request line/headers: answer once and drop the connection.
            send(ctx, req, plain(HttpResponseStatus.BAD_REQUEST, "bad request\n"), false);
            return;
        }
        HttpMethod method = req.method();
        String path = new QueryStringDecoder(req.uri()).path();
        FullHttpResponse response;
        if (!HealthEndpoints.knows(path)) {
            response = plain(HttpResponseStatus.NOT_FOUND, "not found\n");
        } else if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD)) {
            response = plain(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed\n");
            response.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
        } else {
            HealthEndpoints.Reply reply;
            try {
                reply = endpoints.answer(path, req.headers().get(HttpHeaderNames.ACCEPT), ctx.alloc());
            } catch (IOException | RuntimeException e) {
                // A broken collector must not cost the connection its answer: a scraper sees 500.
                LOG.warn("health endpoint {} failed: {}", path, e.getClass().getName());
                reply = null;
            }
            if (reply == null) {
                response = plain(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error\n");
            } else {
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, reply.status(), reply.body());
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, reply.contentType());
            }
            response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        }
        send(ctx, req, response, HttpUtil.isKeepAlive(req));
    }

    private static FullHttpResponse plain(HttpResponseStatus status, String text) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        return r;
    }

    private static void send(ChannelHandlerContext ctx, FullHttpRequest req, FullHttpResponse response, boolean keepAlive) {
        int length = response.content().readableBytes();
        // HEAD carries the length GET would have, and no body.
        HttpUtil.setContentLength(response, length);
        if (req.method().equals(HttpMethod.HEAD)) {
            response.content().clear();
        }
        if (keepAlive) {
            if (!req.protocolVersion().isKeepAliveDefault()) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            }
        } else {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        if (ACCESS.isDebugEnabled()) {
            ACCESS.debug("{} {} {} {} {}", ctx.channel().remoteAddress(), req.method(), req.uri(),
                    response.status().code(), length);
        }
        var future = ctx.writeAndFlush(response);
        if (!keepAlive) {
            future.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof ReadTimeoutException)) {
            LOG.debug("health connection from {} failed", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }
}
