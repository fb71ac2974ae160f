package io.relay.node.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The admin API ({@code /admin/v1/...}, JSON over HTTP) on its own address
 * ({@code admin.listen}, loopback by default), for relayctl. Every request must carry the
 * bearer token of {@code admin.token-file}; anything else is 401 with no detail.
 *
 * <p>Strategy: as the health server, one event-loop thread runs the HTTP codec and a
 * small worker group runs the endpoints, since a change is a Hazelcast compare-and-set.
 * Bodies are limited to {@link #MAX_BODY} bytes. With {@code admin.tls} the port speaks
 * HTTPS only (TLSv1.2 and later, {@link #withTls}).
 */
public final class AdminServer implements AutoCloseable {
    static final String STAGE_IDLE = "idle-timeout";
    static final String STAGE_CODEC = "http-codec";
    static final String STAGE_AGGREGATOR = "aggregator";
    static final String STAGE_ENDPOINTS = "endpoints";
    static final int MAX_BODY = 64 * 1024;
    /** Set while an endpoint works on a request: the idle timeout then waits (a 200k-message retry takes minutes). */
    static final io.netty.util.AttributeKey<Boolean> BUSY = io.netty.util.AttributeKey.valueOf("admin-busy");

    private int idleSeconds = 60;

    private final InetSocketAddress bindAddress;
    private final AdminToken token;
    private final AdminStateStore store;
    private final RoutingOverlay routing;
    private EventLoopGroup ioGroup;
    private EventExecutorGroup workerGroup;
    private Channel serverChannel;
    private ChannelGroup connections;
    private final List<AdminRequestHandler.Endpoint> more = new ArrayList<>();
    private ClusterEndpoint cluster;
    private io.netty.handler.ssl.SslContext tls;

    /** What {@code cluster status} tells about this node; {@code notReady}: the failing readiness checks. */
    public record NodeFacts(String hostname, String smtp, String health, Supplier<List<String>> notReady) {
    }

    public AdminServer(InetSocketAddress bindAddress, AdminToken token, AdminStateStore store) {
        this(bindAddress, token, store, null);
    }

    /** With {@code routing}, also the transport, limits and credentials endpoints. */
    public AdminServer(InetSocketAddress bindAddress, AdminToken token, AdminStateStore store, RoutingOverlay routing) {
        this.routing = routing;
        this.bindAddress = bindAddress;
        this.token = token;
        this.store = store;
    }

    /**
     * Adds {@code /admin/v1/queue} and {@code /admin/v1/cluster} (call before {@link #start}).
     *
     * @param breakers this node's circuit breaker state per next hop
     * @param drain    starts this node's drain and returns at once
     */
    public synchronized AdminServer withQueueAndCluster(io.relay.queue.QueueOperations queue,
            com.hazelcast.core.HazelcastInstance hazelcast, NodeFacts facts, Supplier<Map<String, String>> breakers,
            Runnable drain) {
        more.add(new QueueEndpoint(queue));
        cluster = new ClusterEndpoint(hazelcast, queue, () -> {
            List<String> failing = facts.notReady().get();
            return new ClusterEndpoint.Report(facts.hostname(), facts.smtp(), facts.health(),
                    serverChannel == null ? String.valueOf(bindAddress) : hostPort(boundAddress()), failing.isEmpty(),
                    failing, System.currentTimeMillis());
        }, breakers, drain);
        more.add(cluster);
        return this;
    }

    /** A connection with no request for this long is closed (60 s); one whose request is being answered is not. */
    synchronized AdminServer withIdleTimeout(int seconds) {
        this.idleSeconds = seconds;
        return this;
    }

    /** Extra endpoints (call before {@link #start}). */
    synchronized AdminServer with(AdminRequestHandler.Endpoint endpoint) {
        more.add(endpoint);
        return this;
    }

    /** HTTPS only on this port ({@code admin.tls}; call before {@link #start}): see {@link AdminTlsGate}. */
    public synchronized AdminServer withTls(io.netty.handler.ssl.SslContext context) {
        this.tls = context;
        return this;
    }

    private static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    public synchronized void start() {
        ioGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("admin-io", true),
                NioIoHandler.newFactory());
        workerGroup = new DefaultEventExecutorGroup(2, new DefaultThreadFactory("admin-worker", true));
        EventExecutorGroup workers = workerGroup;
        io.netty.handler.ssl.SslContext https = tls;
        int idle = idleSeconds;
        AdminRequestHandler.Routes routes = new AdminRequestHandler.Routes(token, new NetworksEndpoint(store),
                routing == null ? null : new AdminRequestHandler.RoutingEndpoints(new TransportEndpoint(store, routing),
                        new LimitsEndpoint(store), new CredentialsEndpoint(store)),
                endpoints());
        ChannelGroup open = new DefaultChannelGroup("admin-connections", GlobalEventExecutor.INSTANCE);
        connections = open;
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(ioGroup)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        open.add(ch);
                        ChannelPipeline p = ch.pipeline();
                        p.addLast(STAGE_IDLE, new IdleUnlessBusy(idle));
                        if (https != null) {
                            p.addLast(AdminTlsGate.STAGE, new AdminTlsGate(https));
                        }
                        p.addLast(STAGE_CODEC, new HttpServerCodec(4096, 8192, 8192));
                        p.addLast(STAGE_AGGREGATOR, new HttpObjectAggregator(MAX_BODY));
                        p.addLast(workers, STAGE_ENDPOINTS, new AdminRequestHandler(routes));
                    }
                });
        try {
            serverChannel = bootstrap.bind(bindAddress).syncUninterruptibly().channel();
            if (cluster != null) {
                cluster.start();
            }
        } catch (Exception e) {
            shutdownGroups();
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot listen for the admin API on " + bindAddress, io);
            }
            throw e instanceof RuntimeException re ? re
                    : new IllegalStateException("cannot listen for the admin API on " + bindAddress, e);
        }
    }

    /** The endpoint classes routed by path prefix: those added, and {@code /admin/v1/import} with the routing overlay. */
    private List<AdminRequestHandler.Endpoint> endpoints() {
        List<AdminRequestHandler.Endpoint> all = new ArrayList<>(more);
        if (routing != null) {
            all.add(new ImportEndpoint(store, routing));
        }
        return List.copyOf(all);
    }

    public synchronized InetSocketAddress boundAddress() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    @Override
    public synchronized void close() {
        if (cluster != null) {
            cluster.close();
        }
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
            serverChannel = null;
        }
        if (connections != null) {
            connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
            connections = null;
        }
        shutdownGroups();
    }

    private void shutdownGroups() {
        if (workerGroup != null) {
            workerGroup.shutdownGracefully(100, 2000, TimeUnit.MILLISECONDS).syncUninterruptibly();
            workerGroup = null;
        }
        if (ioGroup != null) {
            ioGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            ioGroup = null;
        }
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
