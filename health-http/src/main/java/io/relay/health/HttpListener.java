package io.relay.health;

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
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The Netty side of a small HTTP server on its own address: the node's health server and
 * its admin API both listen through it, each adding its own pipeline stages.
 *
 * <p>Strategy: one event-loop thread ({@code <name>-io}) does the I/O and the HTTP codec;
 * the stage that answers runs on a small worker group ({@code <name>-worker},
 * {@link #WORKER_THREADS} threads) passed to {@link Stages#add}, because an answer may block
 * briefly (readiness checks, a cluster compare-and-set) and must never stall the event
 * loop. Open connections are tracked so {@link #close()} can end kept-alive ones before the
 * threads stop.
 */
public final class HttpListener implements AutoCloseable {
    static final int WORKER_THREADS = 2;

    /** Adds the server's stages to a new connection's pipeline; {@code workers} for the stage that answers. */
    public interface Stages {
        void add(ChannelPipeline pipeline, EventExecutorGroup workers);
    }

    private final String name;
    private final String purpose;
    private final InetSocketAddress bindAddress;
    private final Stages stages;
    private EventLoopGroup ioGroup;
    private EventExecutorGroup workerGroup;
    private Channel serverChannel;
    private ChannelGroup connections;

    /**
     * @param name        the threads' name prefix ({@code health}, {@code admin})
     * @param purpose     what a bind failure says it could not listen for ("health checks")
     * @param bindAddress port 0 picks a free port
     */
    public HttpListener(String name, String purpose, InetSocketAddress bindAddress, Stages stages) {
        this.name = name;
        this.purpose = purpose;
        this.bindAddress = Objects.requireNonNull(bindAddress, "bindAddress");
        this.stages = stages;
    }

    /** Binds and starts serving; throws (UncheckedIOException for a bind failure) when it cannot listen. */
    public synchronized void start() {
        ioGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory(name + "-io", true),
                NioIoHandler.newFactory());
        workerGroup = new DefaultEventExecutorGroup(WORKER_THREADS, new DefaultThreadFactory(name + "-worker", true));
        EventExecutorGroup workers = workerGroup;
        ChannelGroup open = new DefaultChannelGroup(name + "-connections", GlobalEventExecutor.INSTANCE);
        connections = open;
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(ioGroup)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        open.add(ch);
                        stages.add(ch.pipeline(), workers);
                    }
                });
        try {
            serverChannel = bootstrap.bind(bindAddress).syncUninterruptibly().channel();
        } catch (Exception e) {
            // Netty rethrows the bind failure (a checked BindException) without declaring it.
            shutdownGroups();
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot listen for " + purpose + " on " + bindAddress, io);
            }
            throw e instanceof RuntimeException re ? re
                    : new IllegalStateException("cannot listen for " + purpose + " on " + bindAddress, e);
        }
    }

    /** Whether {@link #start()} bound the address and {@link #close()} has not run since. */
    public synchronized boolean listening() {
        return serverChannel != null;
    }

    /** The bound address (with the real port when 0 was asked); only valid while {@link #listening()}. */
    public synchronized InetSocketAddress boundAddress() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** Stops listening, closes open connections and stops the threads; idempotent. */
    @Override
    public synchronized void close() {
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
            serverChannel = null;
        }
        if (connections != null) {
            // Close kept-alive connections while both groups still run, so their pipelines tear down cleanly.
            connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
            connections = null;
        }
        shutdownGroups();
    }

    private void shutdownGroups() {
        // Workers first, with a short quiet period: a closed channel's pipeline teardown runs
        // io loop -> worker -> io loop, so the io loop must outlive the last worker task.
        if (workerGroup != null) {
            workerGroup.shutdownGracefully(100, 2000, TimeUnit.MILLISECONDS).syncUninterruptibly();
            workerGroup = null;
        }
        if (ioGroup != null) {
            ioGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            ioGroup = null;
        }
    }
}
