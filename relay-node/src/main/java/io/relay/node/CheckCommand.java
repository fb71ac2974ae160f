package io.relay.node;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code relay-node check --config FILE}: validates a configuration like {@code postfix check}, then exits. */
@Command(name = "check", mixinStandardHelpOptions = true, description = "Validate a configuration file and exit.")
final class CheckCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE")
    Path config;

    @Override
    public Integer call() {
        Main.loadConfig(config);
        System.out.println(config + ": ok");
        return 0;
    }
}
