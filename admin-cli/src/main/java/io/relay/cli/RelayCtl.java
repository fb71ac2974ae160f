package io.relay.cli;

import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code relayctl}: the operator's command line for a running cluster. One subcommand per
 * admin API class ({@code networks}, {@code transport}, {@code limits}, {@code credentials},
 * {@code users}, {@code queue}, {@code cluster}) and {@code import-postfix}; it talks to one node's admin API
 * ({@code --node}, default 127.0.0.1:8025 or {@code RELAYCTL_NODE}) with the bearer token
 * of {@code --token-file} (or {@code RELAYCTL_TOKEN_FILE}), and the cluster does the rest.
 * Exit codes: 0 ok, 1 failed (one line on stderr saying what to do), 2 usage.
 */
@Command(name = "relayctl", mixinStandardHelpOptions = true, version = "relayctl 0.1.0",
        description = "Manage a running relay cluster through a node's admin API.",
        subcommands = {NetworksCommand.class, TransportCommand.class, LimitsCommand.class, CredentialsCommand.class,
                UsersCommand.class, DkimCommand.class, QueueCommand.class, ClusterCommand.class, ImportPostfixCommand.class,
                CommandLine.HelpCommand.class})
public final class RelayCtl implements Runnable {
    static final String DEFAULT_NODE = "127.0.0.1:8025";

    @Option(names = "--node", paramLabel = "[https://]HOST:PORT", scope = ScopeType.INHERIT,
            description = "A node's admin.listen address (default: $RELAYCTL_NODE or " + DEFAULT_NODE + ");"
                    + " https:// when the node has admin.tls.")
    String node;

    @Option(names = "--tls", scope = ScopeType.INHERIT,
            description = "Use HTTPS (the node has admin.tls); the certificate is always verified.")
    boolean tls;

    @Option(names = "--cacert", paramLabel = "FILE", scope = ScopeType.INHERIT,
            description = "PEM file of the CA that signed the node's admin.tls certificate (default: $RELAYCTL_CACERT,"
                    + " else the JDK's trust store); implies --tls.")
    String caCert;

    @Option(names = "--token-file", paramLabel = "FILE", scope = ScopeType.INHERIT,
            description = "File holding the admin token, the node's admin.token-file (default: $RELAYCTL_TOKEN_FILE).")
    String tokenFile;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print the API's JSON answer (for scripts).")
    boolean json;

    Map<String, String> env = Map.of();
    /** Progress lines (import-postfix) only on a terminal: System.console() is one when stdin and stdout are. */
    boolean terminal = System.console() != null;
    /** Where {@code credentials set} and {@code users add|passwd} read the password (no --password-file, no terminal). */
    java.io.InputStream stdin = System.in;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec self;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(self.commandLine(), "missing command, e.g. 'networks list'");
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(run(args, System.getenv(), out, err));
    }

    /** Runs one command line and returns its exit code (main exits with it). */
    public static int run(String[] args, Map<String, String> env, PrintWriter out, PrintWriter err) {
        RelayCtl root = new RelayCtl();
        root.env = env;
        CommandLine cmd = new CommandLine(root);
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setExecutionExceptionHandler((e, c, parsed) -> {
            if (e instanceof CliFailure f) {
                c.getErr().println("relayctl: " + f.getMessage());
            } else {
                c.getErr().println("relayctl: " + e);
            }
            c.getErr().flush();
            return 1;
        });
        CommandLine.IParameterExceptionHandler usage = cmd.getParameterExceptionHandler();
        cmd.setParameterExceptionHandler((e, a) -> {
            String command = e.getCommandLine().getCommandSpec().qualifiedName();
            if (e instanceof CommandLine.UnmatchedArgumentException
                    && (command.contains(" credentials") || command.contains(" users"))) {
                // never echo extra arguments here: one may be a password typed on the command line
                e.getCommandLine().getErr().println("relayctl: unexpected argument; a password is never taken from"
                        + " the command line — pipe it on stdin or use "
                        + (command.contains(" users") ? "--generate" : "--password-file") + " (see --help)");
                e.getCommandLine().getErr().flush();
                return e.getCommandLine().getCommandSpec().exitCodeOnInvalidInput();
            }
            return usage.handleParseException(e, a);
        });
        int code = cmd.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** The client for this invocation: the node and token from the options, else the environment. */
    AdminClient client() {
        return client(node != null ? node : env.getOrDefault("RELAYCTL_NODE", DEFAULT_NODE));
    }

    /** The client for another node (e.g. the one to drain), with the same token. */
    AdminClient client(String where) {
        String file = tokenFile != null ? tokenFile : env.get("RELAYCTL_TOKEN_FILE");
        if (file == null || file.isBlank()) {
            throw new CliFailure("no admin token: pass --token-file FILE or set RELAYCTL_TOKEN_FILE"
                    + " (the file named by the node's admin.token-file)");
        }
        String ca = caCert != null ? caCert : env.get("RELAYCTL_CACERT");
        if (ca != null && ca.isBlank()) {
            ca = null;
        }
        return AdminClient.connect(where, file, new AdminClient.Tls(tls || ca != null, ca));
    }
}
