package io.relay.node.smtpd;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.MessageQueue;
import io.relay.routing.NetworkSet;
import io.relay.routing.RelayPolicy;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The inbound ESMTP server: binds every listener ({@code smtpd.listen},
 * {@code smtpd.submission.listen}, {@code smtpd.submissions.listen}, see {@link SmtpListener}
 * and {@link ListenerRole}) and runs one {@link SmtpSession} per connection on Netty's NIO
 * event loops.
 *
 * <p>Pipeline, in order: {@link #CONNECTION_LIMIT} ({@code smtpd.max-connections}) →
 * [{@link #PROXY}, {@link #PROXY_GATE}: PROXY protocol v1/v2 when
 * {@code smtpd.proxy-protocol.trusted-networks} is set, see {@link ProxyProtocolGate}; the real
 * client address is known before the session starts]
 * → [{@link #TLS} from the first byte on a submissions listener (RFC 8314)]
 * → [{@link #CLIENT_LIMIT} ({@code smtpd.client-connection-limit}, counted on that client address,
 * see {@link ClientConnectionLimit})] → {@link #IDLE} ({@code smtpd.timeout}) → [{@link #TLS} after STARTTLS]
 * → {@link #FRAMER} ({@code smtpd.line-length-limit}, {@code smtpd.message-size-limit},
 * {@code smtpd.forbid-bare-newline}; all framers share one {@link ReceiveMemory},
 * {@code smtpd.receive-memory-limit}) → {@link #SESSION}.
 * Blocking work (the queue's accept) runs on the executor given by the caller; replies are
 * written on the channel's event loop.
 *
 * <p>Metrics ({@link RelayMetrics}) are labelled by listener, the listen address as configured
 * ({@code 0.0.0.0:25}), so the label set is bounded by the configuration.
 */
public final class SmtpServer implements AutoCloseable {
    public static final String CONNECTION_LIMIT = "connection-limit";
    public static final String PROXY = "proxy";
    /** The PROXY verdict stage ({@link ProxyProtocolGate}) right after {@link #PROXY}. */
    public static final String PROXY_GATE = "proxy-gate";
    /** With optional PROXY protocol: the decoder the sniffer at {@link #PROXY} installs on a header. */
    public static final String PROXY_DECODER = "proxy-decoder";
    /** Connections per client address ({@link ClientConnectionLimit}), after the PROXY stages. */
    public static final String CLIENT_LIMIT = "client-connection-limit";
    public static final String IDLE = "idle-timeout";
    public static final String TLS = "tls";
    public static final String FRAMER = "framer";
    public static final String SESSION = "session";
    /** The metrics label of the listener a connection came in on (its configured listen address). */
    static final AttributeKey<String> LISTENER = AttributeKey.valueOf("relay.smtpd.listener");

    // swapped whole by reconfigure(): a session reads the one it connected with
    private volatile SessionServices services;
    private final ConnectionLimit connectionLimit;
    private final ReceiveMemory receiveMemory;
    private final ClientConnectionLimit.Counts clientConnections = new ClientConnectionLimit.Counts();
    private final NetworkSet loadBalancers;
    /** Accepts and serves the sessions: one group, so a new connection is registered without a hand-off. */
    private final EventLoopGroup loops;
    private final ChannelGroup sessions = new DefaultChannelGroup("smtpd", GlobalEventExecutor.INSTANCE);
    private final List<Channel> listeners = new CopyOnWriteArrayList<>();
    private final List<SmtpListener> configured;

    /**
     * @param sslContext the STARTTLS server context ({@code TlsMaterial.serverContext}); null disables STARTTLS
     * @param metrics    counts connections, sessions, probes and messages
     */
    public SmtpServer(SmtpdSettings settings, RelayPolicy policy, MessageQueue queue, MailLog mailLog,
                      Executor blockingExecutor, SslContext sslContext, RelayMetrics metrics) {
        this(settings, SmtpListener.mta(settings.listen()), SaslServices.NONE, policy, queue, mailLog,
                blockingExecutor, sslContext, metrics);
    }

    /**
     * @param listeners  every address to bind with its role (the {@code listen} of {@code settings} is not used)
     * @param sasl       the users, failure counts and send rates of SMTP AUTH on the listeners that offer it
     * @param sslContext the TLS server context ({@code TlsMaterial.serverContext}); null disables STARTTLS,
     *                   and then neither a submissions listener nor AUTH can work
     */
    public SmtpServer(SmtpdSettings settings, List<SmtpListener> listeners, SaslServices sasl, RelayPolicy policy,
                      MessageQueue queue, MailLog mailLog, Executor blockingExecutor, SslContext sslContext,
                      RelayMetrics metrics) {
        if (sslContext == null && listeners.stream().anyMatch(l -> l.authOffered() || l.role().implicitTls())) {
            throw new IllegalArgumentException("submission and AUTH need a TLS context");
        }
        this.configured = List.copyOf(listeners);
        this.services = new SessionServices(settings, policy, queue, mailLog, blockingExecutor, sslContext,
                new CommandParser(), new MessageAssembly(settings.hostname(), settings.hopcountLimit()),
                new CommandHandlers(), new AtomicLong(), Clock.systemUTC(), metrics,
                new java.util.concurrent.atomic.AtomicBoolean(), sasl);
        this.receiveMemory = ReceiveMemory.of(settings.receiveMemoryLimit());
        this.connectionLimit = new ConnectionLimit(settings.maxConnections(), settings.hostname(), metrics);
        this.loadBalancers = settings.proxyProtocol().trusted();
        this.loops = new MultiThreadIoEventLoopGroup(settings.eventLoopThreads(), NioIoHandler.newFactory());
    }

    /** Binds every listen address; throws when one cannot be bound (and unbinds the others). */
    public void start() throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap()
                .group(loops)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true);
        for (SmtpListener l : configured) {
            InetSocketAddress address = l.address();
            try {
                listeners.add(b.clone().childHandler(initializer(l)).bind(address).sync().channel());
            } catch (Exception e) {
                // Netty rethrows the bind's BindException undeclared; say which address failed
                stopAccepting();
                if (e instanceof InterruptedException ie) {
                    throw ie;
                }
                throw new BindFailure(l.role().key(), address, e);
            }
        }
    }

    /** One listen address could not be bound; the cause says why. */
    public static final class BindFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final transient InetSocketAddress address;
        private final String key;

        BindFailure(String key, InetSocketAddress address, Throwable cause) {
            super("cannot listen on " + address, cause);
            this.address = address;
            this.key = key;
        }

        /** The configuration key that listed the address ({@code smtpd.listen}, {@code smtpd.submission.listen} ...). */
        public String key() {
            return key;
        }

        public InetSocketAddress address() {
            return address;
        }
    }

    /**
     * Takes new settings for the sessions that connect from now on (a SIGHUP reload of
     * {@code smtpd.timeout}, {@code smtpd.message-size-limit}, {@code smtpd.recipient-limit});
     * open sessions finish with the settings they started with. The listen addresses and
     * the connection limit were fixed at start and stay.
     */
    public void reconfigure(SmtpdSettings settings) {
        services = services.withSettings(settings);
    }

    private ChannelInitializer<SocketChannel> initializer(SmtpListener l) {
        String listener = l.label();
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                SessionServices services = SmtpServer.this.services; // one snapshot per connection
                SmtpdSettings s = services.settings();
                SmtpFramer framer = new SmtpFramer(s.lineLengthLimit(), s.messageSizeLimit(), s.bareNewline(),
                        receiveMemory);
                sessions.add(ch);
                ch.attr(LISTENER).set(listener);
                ch.pipeline()
                        .addLast(CONNECTION_LIMIT, connectionLimit);
                ProxyProtocolGate.install(ch.pipeline(), CONNECTION_LIMIT, s.proxyProtocol(), s.timeout(),
                        services.probes(), services.metrics(), listener);
                if (l.role().implicitTls()) { // RFC 8314: TLS first, right after the load balancer's PROXY header
                    ch.pipeline().addLast(TLS, services.sslContext().newHandler(ch.alloc()));
                }
                if (s.clientConnectionLimit() > 0) {
                    ch.pipeline().addLast(CLIENT_LIMIT, new ClientConnectionLimit(clientConnections,
                            s.clientConnectionLimit(), services.policy(), loadBalancers, s.hostname(),
                            services.mailLog(), services.metrics(), listener));
                }
                ch.pipeline()
                        .addLast(IDLE, new IdleStateHandler(0, 0, s.timeout().toMillis(), TimeUnit.MILLISECONDS))
                        .addLast(FRAMER, framer)
                        .addLast(SESSION, new SmtpSession(services, framer, l));
            }
        };
    }

    /** The actually bound addresses (resolves port 0). */
    public List<InetSocketAddress> boundAddresses() {
        List<InetSocketAddress> out = new ArrayList<>();
        for (Channel c : listeners) {
            out.add((InetSocketAddress) c.localAddress());
        }
        return out;
    }

    /**
     * Closes the listening sockets (the drain). Open sessions finish the transaction they
     * are in; a new MAIL FROM gets {@code 421 4.3.2} and the session ends, so a client with
     * a long session reconnects through the load balancer to a node that stays up instead
     * of being cut mid-transaction when the drain timeout runs out.
     */
    public void stopAccepting() {
        services.stopping().set(true);
        for (Channel c : listeners) {
            c.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        listeners.clear();
    }

    /** Connections turned away or closed before sending any command (load-balancer probes). */
    public long probeConnections() {
        return services.probes().get();
    }

    /** Currently open SMTP connections. */
    public int openConnections() {
        return connectionLimit.open();
    }

    /** Stops accepting, closes open sessions, and stops the event loops. */
    @Override
    public void close() {
        stopAccepting();
        sessions.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
}
