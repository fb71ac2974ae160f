package io.relay.node.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One aggregated admin request to one JSON answer: the token check first (401, no detail,
 * whatever the path), then the route. Errors are {@code {"error":"one line"}}. Runs on the
 * admin worker group.
 */
final class AdminRequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    static final String NETWORKS = "/admin/v1/networks";
    private static final Logger LOG = LoggerFactory.getLogger(AdminRequestHandler.class);
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** What every connection shares. */
    record Routes(AdminToken token, NetworksEndpoint networks, RoutingEndpoints routing) {
        Routes(AdminToken token, NetworksEndpoint networks) {
            this(token, networks, null);
        }
    }

    /** The transport, limits and credentials endpoints (null when the node has no routing overlay). */
    record RoutingEndpoints(TransportEndpoint transport, LimitsEndpoint limits, CredentialsEndpoint credentials) {
    }

    /** 405 with the methods the path takes. */
    static final class NotAllowed extends RuntimeException {
        final String allow;

        NotAllowed(String allow) {
            super("use " + allow.replace(", ", " or "), null, false, false);
            this.allow = allow;
        }
    }

    private final Routes routes;

    AdminRequestHandler(Routes routes) {
        this.routes = routes;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        FullHttpResponse response;
        if (!req.decoderResult().isSuccess()) {
            send(ctx, json(HttpResponseStatus.BAD_REQUEST, Map.of("error", "bad request")), false);
            return;
        }
        if (!routes.token().admits(req.headers().get(HttpHeaderNames.AUTHORIZATION))) {
            response = json(HttpResponseStatus.UNAUTHORIZED, Map.of("error", "unauthorized"));
            response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
        } else {
            response = route(req, client(ctx));
        }
        response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        send(ctx, response, HttpUtil.isKeepAlive(req));
    }

    private FullHttpResponse route(FullHttpRequest req, String client) {
        QueryStringDecoder uri = new QueryStringDecoder(req.uri());
        String path = uri.path();
        RoutingEndpoints r = routes.routing();
        boolean known = path.equals(NETWORKS) || r != null && (path.equals(TransportEndpoint.PATH)
                || path.equals(TransportEndpoint.TEST) || path.equals(LimitsEndpoint.PATH)
                || path.equals(CredentialsEndpoint.PATH));
        if (!known) {
            return json(HttpResponseStatus.NOT_FOUND, Map.of("error", "no such endpoint: " + path));
        }
        boolean get = req.method().equals(HttpMethod.GET);
        boolean post = req.method().equals(HttpMethod.POST);
        try {
            Object answer = switch (path) {
                case NETWORKS -> get ? routes.networks().list()
                        : routes.networks().change(body(req, NetworksEndpoint.Change.class, path, post), client);
                case TransportEndpoint.TEST -> {
                    if (!get) {
                        throw new NotAllowed("GET");
                    }
                    yield r.transport().test(param(uri, "address"), param(uri, "sender"));
                }
                case TransportEndpoint.PATH -> get ? r.transport().list()
                        : r.transport().change(body(req, TransportEndpoint.Change.class, path, post), client);
                case LimitsEndpoint.PATH -> get ? r.limits().list()
                        : r.limits().change(body(req, LimitsEndpoint.Change.class, path, post), client);
                default -> get ? r.credentials().list()
                        : r.credentials().change(body(req, CredentialsEndpoint.Change.class, path, post), client);
            };
            return json(HttpResponseStatus.OK, answer);
        } catch (NotAllowed e) {
            FullHttpResponse resp = json(HttpResponseStatus.METHOD_NOT_ALLOWED, Map.of("error", e.getMessage()));
            resp.headers().set(HttpHeaderNames.ALLOW, e.allow);
            return resp;
        } catch (IllegalArgumentException e) {
            return json(HttpResponseStatus.BAD_REQUEST, Map.of("error", String.valueOf(e.getMessage())));
        } catch (RuntimeException e) {
            LOG.warn("admin {} {} failed: {}", req.method(), path,
                    path.equals(CredentialsEndpoint.PATH) ? e.getClass().getName() : e.toString());
            return json(HttpResponseStatus.SERVICE_UNAVAILABLE,
                    Map.of("error", "the cluster could not take the change now; try again"));
        }
    }

    private static String param(QueryStringDecoder uri, String name) {
        var values = uri.parameters().get(name);
        return values == null || values.isEmpty() ? null : values.get(0);
    }

    /** The POST body of {@code path}; a body that is not the expected JSON is named, not echoed, for credentials. */
    private static <T> T body(FullHttpRequest req, Class<T> type, String path, boolean post) {
        if (!post) {
            throw new NotAllowed("GET, POST");
        }
        try {
            return body(req, type);
        } catch (IllegalArgumentException e) {
            if (path.equals(CredentialsEndpoint.PATH) && !e.getMessage().startsWith("unknown field")
                    && !e.getMessage().startsWith("empty body")) {
                throw new IllegalArgumentException("body is not the expected JSON object");
            }
            throw e;
        }
    }

    private static <T> T body(FullHttpRequest req, Class<T> type) {
        String text = req.content().toString(StandardCharsets.UTF_8);
        if (text.isBlank()) {
            throw new IllegalArgumentException("empty body: send a JSON object");
        }
        try {
            return JSON.readValue(text, type);
        } catch (UnrecognizedPropertyException e) {
            throw new IllegalArgumentException("unknown field '" + e.getPropertyName() + "'");
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("body is not the expected JSON: "
                    + e.getOriginalMessage().replaceAll("\\s+", " "));
        }
    }

    private static String client(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a
                ? a.getAddress().getHostAddress() + ":" + a.getPort() : String.valueOf(ctx.channel().remoteAddress());
    }

    private static FullHttpResponse json(HttpResponseStatus status, Object body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        return r;
    }

    private static void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
        HttpUtil.setContentLength(response, response.content().readableBytes());
        HttpUtil.setKeepAlive(response, keepAlive);
        var f = ctx.writeAndFlush(response);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof ReadTimeoutException)) {
            LOG.debug("admin connection: {}", cause.toString());
        }
        ctx.close();
    }
}
