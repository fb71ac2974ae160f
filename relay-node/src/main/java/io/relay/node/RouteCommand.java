package io.relay.node;

import io.relay.node.config.ConfigLoader;
import io.relay.node.config.RelayConfig;
import io.relay.node.config.RoutingConfigs;
import io.relay.routing.Route;
import io.relay.routing.Router;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code relay-node route ADDRESS [--sender S] --config FILE}: prints the routing decision
 * for one recipient, as {@code postmap -q} answers a table lookup — transport, next hop,
 * TLS level, credentials entry (never the secret), limits and the table entry that matched.
 * A table or credentials file that cannot be read still leaves an answer (as if empty), with
 * a {@code warning:} line that says so; a bad setting is the one error line of the loader.
 */
@Command(name = "route", mixinStandardHelpOptions = true,
        description = "Print where mail to ADDRESS would go, and why.")
final class RouteCommand implements Callable<Integer> {
    @Parameters(paramLabel = "ADDRESS", description = "recipient address")
    String address;

    @Option(names = "--sender", paramLabel = "S", defaultValue = "", description = "envelope sender (for sender-dependent relayhosts)")
    String sender;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration (default: embedded defaults)")
    Path config;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        RelayConfig cfg = config == null ? ConfigLoader.embeddedDefaults() : ConfigLoader.read(config);
        PrintWriter err = spec.commandLine().getErr();
        RoutingConfigs.Built built = RoutingConfigs.build(cfg, w -> err.println("warning: " + w));
        if (built.config() == null) {
            built.problems().throwIfAny(cfg.source());
        }
        Router router = new Router(built.config());
        Route route = router.route(address.replaceAll("^<|>$", ""), sender.replaceAll("^<|>$", ""));
        PrintWriter out = spec.commandLine().getOut();
        out.println("address: " + address);
        out.print(route.describe().endsWith("\n") ? route.describe() : route.describe() + "\n");
        // what the answer could not take into account (an unreadable credentials file, say)
        built.problems().list().forEach(p -> out.println("warning: " + cfg.source() + ": " + p));
        built.undefinedTransports().list()
                .forEach(p -> out.println("warning: " + cfg.source() + ": " + p));
        out.flush();
        err.flush();
        return 0;
    }
}
