package io.relay.node;

import io.relay.node.config.ConfigException;
import io.relay.node.config.ConfigLoader;
import io.relay.node.config.RelayConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code java -jar relay-node.jar [--config FILE]} runs a node; the subcommands are the
 * operator's offline tools ({@code route}, {@code import-postfix}, {@code check},
 * {@code hash-password}).
 * Without --config the node runs on its embedded developer defaults (loopback only,
 * mail written to var/mail as .eml files).
 */
@Command(name = "relay-node", mixinStandardHelpOptions = true, version = "relay-node 0.1.0",
        description = "Clustered outbound SMTP relay node.",
        subcommands = {RouteCommand.class, ImportPostfixCommand.class, CheckCommand.class, HashPasswordCommand.class})
public final class Main implements Callable<Integer> {
    /** The JDK's property for the common ForkJoin pool's size; read once, when the pool is first used. */
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Main.class);
    /** The exit status when the cluster member died under the node (EX_SOFTWARE). */
    static final int MEMBER_LOST = 70;
    static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    static {
        ensureAsyncPool();
    }

    /**
     * Gives the common ForkJoin pool at least two threads, before anything starts it. With
     * one (the JDK's default on a machine with two CPUs or fewer) the JDK and Hazelcast run
     * every asynchronous completion on a new thread of its own: Hazelcast's async map calls
     * ({@code setAsync} of the tombstone on each delivered message, among others) then cost
     * a thread start each. An operator's own {@code -D} setting is kept.
     */
    static void ensureAsyncPool() {
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null) {
            System.setProperty(COMMON_POOL_PARALLELISM,
                    Integer.toString(Math.max(2, Runtime.getRuntime().availableProcessors() - 1)));
        }
    }

    @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration (default: embedded developer defaults)")
    Path config;

    public static void main(String[] args) {
        int code = new CommandLine(new Main())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    // One line on the console, key first; the stack only in the diagnostic log at
                    // DEBUG. A failed start must end the process (the exit below): a member's
                    // threads would otherwise keep a half-started node alive.
                    LOG.debug("relay-node failed", e);
                    if (e instanceof ConfigException) {
                        cmd.getErr().println("relay-node: " + e.getMessage());
                        return 2;
                    }
                    if (e instanceof StartFailure) {
                        cmd.getErr().println("relay-node: " + e.getMessage());
                        return 1;
                    }
                    cmd.getErr().println("relay-node: " + oneLine(e)
                            + " (the stack trace: logger io.relay.node.Main at DEBUG)");
                    return 1;
                })
                .execute(args);
        if (code != 0) {
            System.exit(code);
        }
        // After a node start the node's own threads keep the JVM alive until SIGTERM.
    }

    private static String oneLine(Throwable e) {
        String text = e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": "
                + e.getMessage();
        return text.replaceAll("\\s+", " ");
    }

    /**
     * The file's configuration (smtp delivery unless it says otherwise), or the embedded developer
     * defaults. Only bound here: {@link RelayNode#start} validates it with {@code check}'s own checks.
     */
    static RelayConfig loadConfig(Path file) {
        return file == null ? ConfigLoader.embeddedDefaults() : ConfigLoader.read(file);
    }

    /**
     * The configuration a SIGHUP reads: refused, and the running one kept, when the start would
     * refuse it (the same checks as {@code check}; its warnings were said at the start).
     */
    static RelayConfig reloadConfig(Path file) {
        RelayConfig next = loadConfig(file);
        Preflight.atStart(next, warning -> { });
        return next;
    }

    @Override
    public Integer call() throws Exception {
        RelayConfig cfg = loadConfig(config);
        RelayNode node = RelayNode.start(cfg);
        ShutdownSignals.install(node, new ConfigReload(config, cfg, Main::reloadConfig, node));
        // attached after the start, not passed to it: the hook closes this node, which must exist first
        node.onMemberLost(() -> {
            // Hazelcast stopped the member (an OutOfMemoryError, another fatal error): no queue,
            // no delivery. Exit non-zero so systemd, ECS or Kubernetes start a fresh node.
            LOG.error("the cluster member stopped under the node; exiting with status {}", MEMBER_LOST);
            Thread close = new Thread(node::close, "member-lost-close");
            close.setDaemon(true);
            close.start();
            try {
                close.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Runtime.getRuntime().halt(MEMBER_LOST);
        });
        return 0;
    }
}
