package io.relay.node.admin;

import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.relay.health.HttpListener;
import io.relay.node.cluster.AdminStateStore;
import io.relay.node.cluster.ClusterMembers;
import io.relay.node.cluster.DkimKeyVault;
import io.relay.node.dkim.DkimRecordCheck;
import io.relay.node.cluster.RoutingOverlay;
import io.relay.queue.QueueOperations;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The admin API ({@code /admin/v1/...}, JSON over HTTP) on its own address
 * ({@code admin.listen}, loopback by default), for relayctl. Every request must carry the
 * bearer token of {@code admin.token-file}; anything else is 401 with no detail.
 *
 * <p>Strategy: the health server's {@link HttpListener}: one event-loop thread runs the HTTP
 * codec and a small worker group runs the endpoints, since a change is a cluster compare-and-set.
 * Bodies are limited to {@link #MAX_BODY} bytes. With {@code admin.tls} the port speaks
 * HTTPS only (TLSv1.2 and later, {@link Listener#tls}).
 */
public final class AdminServer implements AutoCloseable {
    static final String STAGE_IDLE = "idle-timeout";
    static final String STAGE_CODEC = "http-codec";
    static final String STAGE_AGGREGATOR = "aggregator";
    static final String STAGE_ENDPOINTS = "endpoints";
    static final int MAX_BODY = 64 * 1024;
    /** Set while an endpoint works on a request: the idle timeout then waits (a 200k-message retry takes minutes). */
    static final io.netty.util.AttributeKey<Boolean> BUSY = io.netty.util.AttributeKey.valueOf("admin-busy");

    private final ClusterMembers members;
    private final HttpListener http;

    /**
     * Where and how the API listens.
     *
     * @param tls         HTTPS only on this port ({@code admin.tls}, see {@link AdminTlsGate}), or null for HTTP
     * @param idleSeconds a connection with no request for this long is closed; one whose request is being
     *                    answered is not
     */
    public record Listener(InetSocketAddress address, AdminToken token, SslContext tls, int idleSeconds) {
        public Listener(InetSocketAddress address, AdminToken token, SslContext tls) {
            this(address, token, tls, 60);
        }
    }

    /**
     * What the endpoints work on.
     *
     * @param store    the cluster's admin state (networks, transport, limits, credentials, SASL users)
     * @param routing  the live router the transport endpoint tests addresses against
     * @param queue    the queue of {@code /admin/v1/queue}
     * @param members  the cluster as this node sees it, for {@code /admin/v1/cluster}; the server starts it
     *                 (with its own bound address) and closes it
     * @param breakers this node's circuit breaker state per next hop
     * @param drain    starts this node's drain and returns at once
     * @param dkim     what {@code /admin/v1/dkim} needs beside the store
     */
    public record Node(AdminStateStore store, RoutingOverlay routing, QueueOperations queue, ClusterMembers members,
                       Supplier<Map<String, String>> breakers, Runnable drain, Dkim dkim) {
    }

    /**
     * The DKIM keys' tools on this node.
     *
     * @param vault seals new keys ({@code dkim.key-encryption-key-file}), or null when unset: no key is then made
     * @param dns   looks the published records up through {@code smtp.dns-servers}
     */
    public record Dkim(DkimKeyVault vault, DkimRecordCheck dns) {
    }

    public AdminServer(Listener listener, Node node) {
        this(listener, new AdminRequestHandler.Routes(listener.token(), new NetworksEndpoint(node.store()),
                new AdminRequestHandler.RoutingEndpoints(new TransportEndpoint(node.store(), node.routing()),
                        new LimitsEndpoint(node.store()), new CredentialsEndpoint(node.store())),
                List.of(new QueueEndpoint(node.queue()), new ClusterEndpoint(node.members(), node.breakers(), node.drain()),
                        new ImportEndpoint(node.store(), node.routing()), new UsersEndpoint(node.store()),
                        new DkimEndpoint(node.store(), node.dkim().vault(), node.dkim().dns()))),
                node.members());
    }

    /** With {@code routes} as given; {@code members} may be null (no cluster endpoint among the routes). */
    AdminServer(Listener listener, AdminRequestHandler.Routes routes, ClusterMembers members) {
        this.members = members;
        SslContext https = listener.tls();
        int idle = listener.idleSeconds();
        this.http = new HttpListener("admin", "the admin API", listener.address(), (p, workers) -> {
            p.addLast(STAGE_IDLE, new IdleUnlessBusy(idle));
            if (https != null) {
                p.addLast(AdminTlsGate.STAGE, new AdminTlsGate(https));
            }
            p.addLast(STAGE_CODEC, new HttpServerCodec(4096, 8192, 8192));
            p.addLast(STAGE_AGGREGATOR, new HttpObjectAggregator(MAX_BODY));
            p.addLast(workers, STAGE_ENDPOINTS, new AdminRequestHandler(routes));
        });
    }

    private static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    /** Binds, then starts the members' reports with the bound address. */
    public synchronized void start() {
        http.start();
        if (members != null) {
            try {
                members.start(hostPort(http.boundAddress()));
            } catch (RuntimeException e) {
                http.close();
                throw e;
            }
        }
    }

    public synchronized InetSocketAddress boundAddress() {
        return http.boundAddress();
    }

    @Override
    public synchronized void close() {
        if (members != null) {
            members.close();
        }
        http.close();
    }

    /** Closes a connection idle between requests, never one whose request an endpoint is still answering. */
    static final class IdleUnlessBusy extends ReadTimeoutHandler {
        IdleUnlessBusy(int seconds) {
            super(seconds);
        }

        @Override
        protected void readTimedOut(io.netty.channel.ChannelHandlerContext ctx) throws Exception {
            if (!Boolean.TRUE.equals(ctx.channel().attr(BUSY).get())) {
                super.readTimedOut(ctx);
            }
        }
    }
}
