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
import io.relay.admin.api.AdminApi;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
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

    /** What every connection shares; {@code more}: the endpoint classes that route by path prefix. */
    record Routes(AdminToken token, NetworksEndpoint networks, RoutingEndpoints routing, List<Endpoint> more) {
        Routes(AdminToken token, NetworksEndpoint networks) {
            this(token, networks, null, List.of());
        }

        Routes(AdminToken token, NetworksEndpoint networks, RoutingEndpoints routing) {
            this(token, networks, routing, List.of());
        }
    }

    /** The transport, limits and credentials endpoints (null when the node has no routing overlay). */
    record RoutingEndpoints(TransportEndpoint transport, LimitsEndpoint limits, CredentialsEndpoint credentials) {
    }

    /**
     * An endpoint class that owns the paths under {@link #prefix()}. It answers the body to
     * send as JSON with 200; IllegalArgumentException is a 400, NoSuchElementException a
     * 404, UnsupportedOperationException a 405, each with its message as the one line.
     */
    interface Endpoint {
        String prefix();

        Object handle(HttpMethod method, String path, QueryStringDecoder query, String body, String client);
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
        ctx.channel().attr(AdminServer.BUSY).set(true);
        try {
            answer(ctx, req);
        } finally {
            ctx.channel().attr(AdminServer.BUSY).set(false);
        }
    }

    private void answer(ChannelHandlerContext ctx, FullHttpRequest req) {
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
        for (Endpoint e : routes.more()) {
            if (path.equals(e.prefix()) || path.startsWith(e.prefix() + "/")) {
                return prefixed(e, req, uri, client);
            }
        }
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
                        : routes.networks().change(body(req, AdminApi.NetworksChange.class, path, post), client);
                case TransportEndpoint.TEST -> {
                    if (!get) {
                        throw new NotAllowed("GET");
                    }
                    yield r.transport().test(param(uri, "address"), param(uri, "sender"));
                }
                case TransportEndpoint.PATH -> get ? r.transport().list()
                        : r.transport().change(body(req, AdminApi.TransportChange.class, path, post), client);
                case LimitsEndpoint.PATH -> get ? r.limits().list()
                        : r.limits().change(body(req, AdminApi.LimitsChange.class, path, post), client);
                default -> get ? r.credentials().list()
                        : r.credentials().change(body(req, AdminApi.CredentialsChange.class, path, post), client);
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

    private static FullHttpResponse prefixed(Endpoint e, FullHttpRequest req, QueryStringDecoder query, String client) {
        try {
            return json(HttpResponseStatus.OK, e.handle(req.method(), query.path(), query,
                    req.content().toString(StandardCharsets.UTF_8), client));
        } catch (IllegalArgumentException x) {
            return json(HttpResponseStatus.BAD_REQUEST, Map.of("error", String.valueOf(x.getMessage())));
        } catch (NoSuchElementException x) {
            return json(HttpResponseStatus.NOT_FOUND, Map.of("error", String.valueOf(x.getMessage())));
        } catch (UnsupportedOperationException x) {
            return json(HttpResponseStatus.METHOD_NOT_ALLOWED, Map.of("error", String.valueOf(x.getMessage())));
        } catch (RuntimeException x) {
            LOG.warn("admin {} {} failed: {}", req.method(), query.path(), x.toString());
            return json(HttpResponseStatus.SERVICE_UNAVAILABLE,
                    Map.of("error", "the cluster could not do it now; try again"));
        }
    }

    private static <T> T body(FullHttpRequest req, Class<T> type) {
        return parse(req.content().toString(StandardCharsets.UTF_8), type);
    }

    /** A request body as {@code type}; IllegalArgumentException with a one-line reason otherwise. */
    static <T> T parse(String text, Class<T> type) {
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
