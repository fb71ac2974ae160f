package io.relay.node;

import io.relay.node.config.RelayConfig;
import io.relay.node.config.RoutingConfigs;
import io.relay.routing.Route;
import io.relay.routing.Router;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code relay-node route ADDRESS [--sender S] --config FILE}: prints the routing decision
 * for one recipient, as {@code postmap -q} answers a table lookup — transport, next hop,
 * TLS level, credentials entry (never the secret), limits and the table entry that matched.
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

    @Override
    public Integer call() {
        RelayConfig cfg = Main.loadConfig(config);
        Router router = new Router(RoutingConfigs.from(cfg, w -> System.err.println("warning: " + w)));
        Route route = router.route(address.replaceAll("^<|>$", ""), sender.replaceAll("^<|>$", ""));
        System.out.println("address: " + address);
        System.out.print(route.describe().endsWith("\n") ? route.describe() : route.describe() + "\n");
        return 0;
    }
}
