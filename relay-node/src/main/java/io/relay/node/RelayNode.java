package io.relay.node;

import io.netty.handler.ssl.SslContext;
import io.relay.health.HealthServer;
import io.relay.health.ReadinessCheck;
import io.relay.node.admin.AdminServer;
import io.relay.node.admin.AdminToken;
import io.relay.node.cluster.AdminStateMergePolicy;
import io.relay.node.cluster.AdminStateStore;
import io.relay.node.cluster.ClusterAuthFailures;
import io.relay.node.cluster.ClusterDkimKeys;
import io.relay.node.cluster.ClusterSaslUsers;
import io.relay.node.cluster.DkimKeyVault;
import io.relay.node.dkim.DkimRecordCheck;
import io.relay.node.dkim.MessageSigning;
import io.relay.node.cluster.ClusterSenderRates;
import io.relay.node.cluster.UsersBootstrap;
import io.relay.node.cluster.ClusterMembers;
import io.relay.node.cluster.QueueNextHops;
import io.relay.node.cluster.RoutingOverlay;
import io.relay.node.config.HostPort;
import io.relay.node.config.RelayConfig;
import io.relay.node.config.RoutingConfigs;
import io.relay.node.delivery.AddressRecordResolver;
import io.relay.node.delivery.DkimStep;
import io.relay.node.delivery.Dispatcher;
import io.relay.node.delivery.DsnBuilder;
import io.relay.node.delivery.ClusterNextHopLimiter;
import io.relay.node.delivery.NextHopGuard;
import io.relay.node.delivery.MxResolver;
import io.relay.node.delivery.NextHopResolver;
import io.relay.node.delivery.SmtpClient;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.QueueMetricsEvents;
import io.relay.node.metrics.QueueSnapshot;
import io.relay.node.metrics.RelayMetrics;
import io.relay.node.smtpd.SaslServices;
import io.relay.node.smtpd.SmtpListener;
import io.relay.node.smtpd.SmtpServer;
import io.relay.node.smtpd.SmtpdSettings;
import io.relay.node.tls.TlsMaterial;
import io.relay.queue.ClusterLimits;
import io.relay.queue.ClusterMember;
import io.relay.queue.ClusterQueue;
import io.relay.queue.QueueSettings;
import io.relay.queue.SpaceCheckedQueue;
import io.relay.queue.SpoolSpace;
import io.relay.routing.NetworkSet;
import io.relay.routing.RelayPolicy;
import io.relay.routing.RoutingConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One relay node, wired by constructor from its configuration: the mail log, the
 * cluster member and queue (journal replay first), the router and the delivery side,
 * the SMTP listeners and the health server. {@link #close()} takes it down in the
 * reverse order, so nothing that got 250 is lost.
 */
public final class RelayNode implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RelayNode.class);

    private final ClusterQueue queue;
    private final ClusterNextHopLimiter limiter;
    private final SmtpServer smtpd;
    private final HealthServer health;
    private final AdminStateStore admin;
    /** The DKIM keys that sign, per domain; for the signer when it joins the message path (issue 21). */
    private final ClusterDkimKeys dkimKeys;
    private final AdminServer adminApi;
    private final ExecutorService blocking;
    private final NodeState state;
    private final MailLog mailLog;
    private final String hostname;
    private final ClusterMember member;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final java.util.concurrent.CountDownLatch closedLatch = new java.util.concurrent.CountDownLatch(1);

    /** What readiness reads: set by the drain, read by the health server's checks. */
    static final class NodeState {
        final AtomicBoolean draining = new AtomicBoolean();
        final AtomicBoolean accepting = new AtomicBoolean();
        /** The cluster member stopped without our close (Hazelcast's fatal-error handling). */
        final AtomicBoolean memberLost = new AtomicBoolean();
    }

    /**
     * Starts the node. A start that fails closes what it had opened (the cluster member,
     * listeners, threads) before the exception leaves, so the process can end; a listener
     * that cannot bind, or a spool directory or mail log that cannot be written, is a
     * {@link StartFailure} naming the key.
     */
    public static RelayNode start(RelayConfig cfg) throws Exception {
        Preflight.atStart(cfg, LOG::warn); // the checks of relay-node check: one path, no drift
        java.util.Deque<AutoCloseable> opened = new java.util.ArrayDeque<>();
        try {
            return new RelayNode(cfg, opened);
        } catch (Exception | Error e) {
            while (!opened.isEmpty()) {
                try {
                    opened.pop().close();
                } catch (Exception closing) {
                    LOG.debug("closing a half-started node: {}", closing.toString());
                }
            }
            throw e;
        }
    }

    /** Runs {@code start} of the listener of {@code key}; a failure to bind becomes one line naming it. */
    private static void listen(String key, Object address, Startable start) throws Exception {
        try {
            start.run();
        } catch (SmtpServer.BindFailure e) {
            throw StartFailure.listen(e.key(), StartFailure.text(e.address()), e.getCause());
        } catch (RuntimeException e) {
            if (!StartFailure.isBind(e)) {
                throw e;
            }
            throw StartFailure.listen(key, address, e);
        }
    }

    private interface Startable {
        void run() throws Exception;
    }

    /**
     * The start, top to bottom: the config's checks, the mail log, the cluster member and
     * queue, the admin state, the delivery side, then the listeners (health, SMTP, admin).
     * Each part that needs closing goes onto {@code opened} as soon as it exists.
     */
    private RelayNode(RelayConfig cfg, java.util.Deque<AutoCloseable> opened) throws Exception {
        String hostname = cfg.smtpd.hostname != null ? cfg.smtpd.hostname : localHostName();
        this.hostname = hostname;
        // checked before anything starts: a token file others can read refuses the start
        AdminToken adminToken = cfg.admin.tokenFile == null ? null : AdminToken.load(cfg.admin.tokenFile);
        SslContext adminTls = null;
        if (adminToken != null && cfg.admin.tls.certFile != null) {
            try {
                adminTls = TlsMaterial.adminContext(cfg.admin.tls.certFile, cfg.admin.tls.keyFile);
            } catch (IllegalArgumentException e) {
                throw new io.relay.node.config.ConfigException(e.getMessage());
            }
        }
        MailLog mailLog;
        try {
            mailLog = MailLog.open(cfg.log.file, cfg.log.syslogName, hostname);
        } catch (java.io.UncheckedIOException e) {
            throw StartFailure.path("log.file", cfg.log.file, "cannot write: " + StartFailure.reason(e), e);
        }
        this.mailLog = mailLog;
        RoutingConfig routing = RoutingConfigs.from(cfg, warning -> {
            LOG.warn(warning);
            mailLog.warning("smtp", warning);
        });
        // the config's routing with the admin overlay (transport entries, limits, credentials)
        // laid over it; the store swaps the overlay's router when the cluster's state changes
        RoutingOverlay router = new RoutingOverlay(routing);
        RelayPolicy policy = new RelayPolicy(NetworkSet.parse(cfg.smtpd.mynetworks), Set.copyOf(cfg.smtpd.relayDomains));
        try {
            Files.createDirectories(cfg.queue.spoolDir);
        } catch (java.io.IOException e) {
            throw StartFailure.path("queue.spool-dir", cfg.queue.spoolDir, "cannot create: " + StartFailure.reason(e), e);
        }
        if (!Files.isWritable(cfg.queue.spoolDir)) {
            throw StartFailure.path("queue.spool-dir", cfg.queue.spoolDir, "not writable", null);
        }
        RelayMetrics metrics = new RelayMetrics();
        // the drain's waits, before anything can ask for a drain (the admin API)
        this.drainDelay = cfg.health.drainDelay;
        this.drainTimeout = cfg.health.drainTimeout;

        // relay-admin merges by its state's version after a split (AdminStateMergePolicy)
        ClusterMember member;
        try {
            member = ClusterMember.start(cfg.cluster.settings(cfg.queue.backupCount),
                    AdminStateMergePolicy::configure);
        } catch (RuntimeException e) {
            if (!StartFailure.isBind(e)) {
                throw e;
            }
            throw StartFailure.listen("cluster.listen", cfg.cluster.listen, e);
        }
        opened.push(member);
        this.member = member;
        // the queue owns the member from here on and shuts it down in close()
        ClusterQueue queue = new ClusterQueue(member, new QueueSettings(cfg.queue.spoolDir, cfg.queue.minimalBackoffTime,
                cfg.queue.maximalBackoffTime, cfg.queue.maximalQueueLifetime, cfg.queue.deliveryConcurrency,
                cfg.queue.maxMessages, cfg.queue.maxBytes, cfg.queue.maxIndexMemory), new QueueMetricsEvents(metrics),
                QueueNextHops.of(router::route));
        opened.push(queue);
        this.queue = queue;
        SpoolSpace space = watchSpoolSpace(cfg, mailLog);
        opened.push(space);
        this.spoolSpace = space;
        metrics.spoolSpace(space::freeBytes, space::minFreeBytes);
        // mynetworks as changed through the admin API on any node: the sessions read the
        // policy's volatile set, which the store swaps when the cluster's state changes
        // SMTP AUTH's users (issue 20) follow the same states as the routing overlay
        ClusterSaslUsers saslUsers = new ClusterSaslUsers();
        // DKIM keys (issue 21) follow too, unsealed once per key; the SMTP transport signs with them (DkimStep)
        DkimKeyVault dkimVault = cfg.dkim.keyEncryptionKeyFile == null ? null
                : DkimKeyVault.fromFile(cfg.dkim.keyEncryptionKeyFile);
        ClusterDkimKeys dkimKeys = new ClusterDkimKeys(dkimVault);
        AdminStateStore admin = new AdminStateStore(member.hazelcast(), cfg.smtpd.mynetworks, cfg.queue.spoolDir,
                policy::mynetworks, s -> {
                    router.apply(s);
                    saslUsers.apply(s);
                    dkimKeys.apply(s);
                }, Clock.systemUTC());
        admin.start();
        opened.push(admin);
        this.admin = admin;
        // SMTP AUTH (issue 20): the users table (seeded once from smtpd.sasl-users-file, then
        // relayctl's), failed AUTH per client and each user's own rate, all counted for the whole
        // cluster; the rates on the same limiter as the next hops' lanes
        UsersBootstrap.seed(admin, cfg.smtpd.saslUsersFile);
        ClusterLimits limits = new ClusterLimits(member.hazelcast());
        SaslServices sasl = new SaslServices(saslUsers, new ClusterAuthFailures(member.hazelcast(),
                cfg.smtpd.authFailureLimit, cfg.smtpd.authFailureWindow), new ClusterSenderRates(limits));
        this.dkimKeys = dkimKeys;
        new QueueSnapshot(queue::counts, Duration.ofSeconds(5)).registerIn(metrics);
        metrics.clusterMembers(member::memberCount);

        // bracketed next hops ([host]:port) resolve A/AAAA only; the others look up MX first.
        // With smtp.dns-servers set, both ask those servers (MxResolver skips MX for bracketed
        // hops); without, bracketed hops use the system resolver, so /etc/hosts names still work.
        NextHopResolver addresses = new AddressRecordResolver();
        NextHopResolver mx = new MxResolver(cfg.smtp.dnsServers.stream().map(HostPort::toSocketAddress).toList(),
                Duration.ofSeconds(10));
        NextHopResolver resolver = hop -> hop.mxLookup() || !cfg.smtp.dnsServers.isEmpty()
                ? mx.resolve(hop) : addresses.resolve(hop);
        SmtpClient client = new SmtpClient(hostname, cfg.smtp.connectTimeout, cfg.smtp.replyTimeout,
                Duration.ofSeconds(5), resolver);
        // lane limits (transport concurrency and rates) count once for the whole cluster
        ClusterNextHopLimiter limiter = new ClusterNextHopLimiter(limits,
                Duration.ofSeconds(10));
        opened.push(limiter);
        this.limiter = limiter;
        NextHopGuard guard = NextHopGuard.of(new NextHopGuard.Settings(cfg.smtp.breaker.failureThreshold,
                cfg.smtp.breaker.openTime, cfg.smtp.breaker.connectRetries), metrics::circuitBreakerState);
        Dispatcher dispatcher = new Dispatcher(router::route, client, limiter, cfg.smtp.destinationConcurrencyLimit,
                guard, queue, new DsnBuilder(hostname), mailLog, hostname, Clock.systemUTC(), metrics,
                new DkimStep(new MessageSigning(dkimKeys::active, dkimKeys::any, dkimKeys::problem,
                        cfg.dkim.fallbackDomain, Set.copyOf(cfg.dkim.required), Clock.systemUTC()),
                        cfg.smtp.transports.entrySet().stream().filter(e -> !e.getValue().dkimSigns())
                                .map(Map.Entry::getKey).collect(Collectors.toSet()), metrics));
        // a setter, not the constructor: the dispatcher that knows a lane's connections needs the limiter first
        limiter.beforeRelease(dispatcher::closeIdleConnections);
        queue.start(dispatcher);

        ExecutorService blocking = Executors.newFixedThreadPool(4, daemon("smtpd-blocking"));
        opened.push(blocking::shutdownNow);
        this.blocking = blocking;
        // On this thread, after the queue: loaded beside the cluster join on the common pool (a
        // second sooner to SMTP), two node starts of the full suite under heavy load hung after
        // the queue's start and never listened; not understood, so not done in parallel.
        SslContext tls = TlsMaterial.serverContext(cfg.smtpd.tlsCertFile, cfg.smtpd.tlsKeyFile, hostname,
                cfg.queue.spoolDir.resolve("tls"));
        // new mail only: bounces, deferrals and DONE records keep the room queue.min-free-bytes leaves
        SmtpServer smtpd = new SmtpServer(SmtpdSettings.from(cfg.smtpd, hostname), SmtpListener.from(cfg.smtpd), sasl,
                policy, new SpaceCheckedQueue(queue, space), mailLog, blocking, tls, metrics);
        opened.push(smtpd);
        this.smtpd = smtpd;
        NodeState state = new NodeState();
        this.state = state;

        List<ReadinessCheck> readiness = List.of(
                ReadinessCheck.of("draining", () -> state.draining.get()
                        ? ReadinessCheck.Result.failing("draining (SIGTERM or relayctl cluster drain)") : ReadinessCheck.Result.passing()),
                ReadinessCheck.of("smtp-listener", () -> state.accepting.get()
                        ? ReadinessCheck.Result.passing() : ReadinessCheck.Result.failing("SMTP listeners closed")),
                ReadinessCheck.of("cluster-member", () -> member.running()
                        ? ReadinessCheck.Result.passing() : ReadinessCheck.Result.failing("not a cluster member")),
                ReadinessCheck.of("cluster-size", () -> clusterSize(member.memberCount(), cfg.cluster.minMembers)),
                ReadinessCheck.of("queue", () -> queue.full()
                        ? ReadinessCheck.Result.failing("queue above its high-water mark") : ReadinessCheck.Result.passing()),
                ReadinessCheck.of("spool-space", () -> space.shortage().map(ReadinessCheck.Result::failing)
                        .orElseGet(ReadinessCheck.Result::passing)));
        // Liveness: a node whose cluster member died under it (Hazelcast stops the member on
        // an OutOfMemoryError) can neither queue nor deliver; /healthz says so until it exits.
        List<ReadinessCheck> liveness = List.of(
                ReadinessCheck.of("cluster-member", () -> state.memberLost.get()
                        ? ReadinessCheck.Result.failing("the cluster member stopped under the node")
                        : ReadinessCheck.Result.passing()));
        HealthServer health = new HealthServer(cfg.health.listen.toSocketAddress(), readiness, liveness,
                metrics.registry());
        // The health server first (/readyz 503 until the listeners accept), then SMTP: when a
        // client or a load balancer can reach port 25, /readyz answers too.
        listen("health.listen", cfg.health.listen, health::start);
        opened.push(health);
        this.health = health;
        listen("smtpd.listen", cfg.smtpd.listen, smtpd::start); // BindFailure names the key and address
        state.accepting.set(true);
        if (adminToken != null) {
            ClusterMembers members = new ClusterMembers(member.hazelcast(), queue, new ClusterMembers.NodeFacts(hostname,
                    smtpd.boundAddresses().toString(), String.valueOf(health.boundAddress()), () -> failing(readiness)));
            AdminServer api = new AdminServer(new AdminServer.Listener(cfg.admin.listen.toSocketAddress(), adminToken,
                    adminTls), new AdminServer.Node(admin, router, queue, members, () -> breakerLabels(guard),
                    this::adminDrain, new AdminServer.Dkim(dkimVault, new DkimRecordCheck(
                            cfg.smtp.dnsServers.stream().map(HostPort::toSocketAddress).toList(), Duration.ofSeconds(5)))));
            listen("admin.listen", cfg.admin.listen, api::start);
            opened.push(api);
            this.adminApi = api;
            LOG.info("admin API on {}{}", api.boundAddress(), adminTls != null ? " (HTTPS)" : "");
        } else {
            this.adminApi = null;
            LOG.info("admin API off: admin.token-file is not set");
        }
        LOG.info("relay node {} up: smtp {}, health {}, cluster {}", hostname, smtpd.boundAddresses(),
                health.boundAddress(), cfg.cluster.listen);
    }

    private static List<String> failing(List<ReadinessCheck> checks) {
        List<String> out = new java.util.ArrayList<>();
        for (ReadinessCheck c : checks) {
            try {
                ReadinessCheck.Result r = c.check();
                if (!r.ok()) {
                    out.add(c.name() + ": " + r.reason());
                }
            } catch (RuntimeException e) {
                out.add(c.name() + ": " + e);
            }
        }
        return out;
    }

    private static java.util.Map<String, String> breakerLabels(NextHopGuard guard) {
        java.util.Map<String, String> out = new java.util.TreeMap<>();
        guard.states().forEach((hop, st) -> out.put(hop, st.label()));
        return out;
    }

    /**
     * What {@code POST /admin/v1/cluster/drain} does: by default the drain of SIGTERM on a
     * thread of its own; {@link ShutdownSignals} replaces it with its own (drain, then exit).
     */
    private volatile Runnable drainAction;
    private volatile Duration drainDelay;
    private final SpoolSpace spoolSpace;
    private volatile Duration drainTimeout;

    void onAdminDrain(Runnable action) {
        drainAction = action;
    }

    /** The drain's waits ({@code health.drain-delay}, {@code health.drain-timeout}) as they are now. */
    Duration drainDelay() {
        return drainDelay;
    }

    Duration drainTimeout() {
        return drainTimeout;
    }

    /**
     * Free space of the spool's file system against {@code queue.min-free-bytes}, sampled
     * every second; its two transitions (below the minimum, back above it) also go to the
     * mail log, where Postfix's {@code queue_minfree} warning would be.
     */
    private static SpoolSpace watchSpoolSpace(RelayConfig cfg, MailLog mailLog) {
        try {
            return SpoolSpace.watch(cfg.queue.spoolDir, cfg.queue.minFreeBytes, new SpoolSpace.Transitions() {
                @Override
                public void low(String line) {
                    mailLog.warning("smtpd", line);
                }

                @Override
                public void recovered(String line) {
                    mailLog.agent("smtpd", line);
                }
            });
        } catch (java.io.IOException e) {
            throw StartFailure.path("queue.spool-dir", cfg.queue.spoolDir,
                    "cannot read its file system's free space: " + StartFailure.reason(e), e);
        }
    }

    /** A new {@code queue.min-free-bytes} (a SIGHUP reload), in force for the next message. */
    void minFreeBytes(long bytes) {
        spoolSpace.minFreeBytes(bytes);
    }

    /** New drain waits (a SIGHUP reload); a drain already running keeps its own. */
    void drainTimes(Duration delay, Duration timeout) {
        drainDelay = delay;
        drainTimeout = timeout;
    }

    /** New {@code smtpd.*} settings for the sessions that connect from now on (a SIGHUP reload). */
    void smtpdSettings(RelayConfig.Smtpd smtpd) {
        this.smtpd.reconfigure(SmtpdSettings.from(smtpd, hostname));
    }

    MailLog mailLog() {
        return mailLog;
    }

    /**
     * Runs {@code action} once if the cluster member stops under the node (not by
     * {@link #close()}); from then on {@code /healthz} fails. Main exits non-zero there,
     * so systemd, ECS or Kubernetes start a fresh node.
     */
    void onMemberLost(Runnable action) {
        member.onLost(() -> {
            state.memberLost.set(true);
            action.run();
        });
    }

    private void adminDrain() {
        Runnable a = drainAction;
        if (a != null) {
            a.run();
            return;
        }
        Thread t = new Thread(() -> drain(drainDelay, drainTimeout), "admin-drain");
        t.setDaemon(false);
        t.start();
    }

    /** Ready only while the node sees {@code cluster.min-members}: alone it would take mail no peer backs up. */
    static ReadinessCheck.Result clusterSize(int members, int required) {
        return members >= required ? ReadinessCheck.Result.passing()
                : ReadinessCheck.Result.failing(members + " of " + required + " required members");
    }

    static String localHostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /**
     * The graceful stop of a rolling deploy: readiness goes 503 at once so the load
     * balancer stops sending new connections; the node keeps serving for {@code delay}
     * (the LB's deregistration delay); then it stops accepting, gives open sessions up to
     * {@code timeout} to finish, and closes (the queue leaves the cluster gracefully, so
     * its partitions move with nothing lost). An interrupt (a second SIGTERM) skips the
     * waits; nothing that got 250 is lost either way, it is in the spool and the cluster.
     */
    public void drain(Duration delay, Duration timeout) {
        if (!state.draining.compareAndSet(false, true)) {
            return;
        }
        LOG.info("draining: not ready; serving {} more before closing the SMTP listeners", delay);
        try {
            Thread.sleep(delay.toMillis());
            state.accepting.set(false);
            smtpd.stopAccepting();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (smtpd.openConnections() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            LOG.info("draining: {} SMTP sessions still open at close", smtpd.openConnections());
        } catch (InterruptedException e) {
            // The second signal only cuts the waits short: the interrupt is not passed on,
            // or the close that follows would abandon the spool's last flush (its DONE
            // records) and the queue's orderly exit from the cluster.
            LOG.info("draining cut short");
        }
        close();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            // Another thread closes (the drain); the shutdown hook waits for it to finish.
            try {
                closedLatch.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        try {
            closeOnce();
        } finally {
            closedLatch.countDown();
        }
    }

    private void closeOnce() {
        LOG.info("relay node shutting down");
        try {
            smtpd.close();
        } catch (RuntimeException e) {
            LOG.warn("smtpd close: {}", e.toString());
        }
        health.close();
        if (adminApi != null) {
            adminApi.close();
        }
        admin.close();
        spoolSpace.close();
        try {
            queue.close();
        } catch (RuntimeException e) {
            LOG.warn("queue close: {}", e.toString());
        }
        try {
            limiter.close();
        } catch (RuntimeException e) {
            LOG.warn("limiter close: {}", e.toString());
        }
        blocking.shutdown();
        try {
            blocking.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

}
