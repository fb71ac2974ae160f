package io.relay.node;

import io.relay.node.config.ConfigLoader;
import io.relay.node.config.RelayConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code relay-node check --config FILE}: runs every check the start runs ({@link Preflight}),
 * and binds each listener address once, like {@code postfix check}. Prints each problem on a
 * line of its own naming the file and the key, then {@code FILE: ok} or exits 2.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Validate a configuration file (tables, credentials, certificates, ports) and exit.")
final class CheckCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE")
    Path config;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        RelayConfig cfg = ConfigLoader.read(config);
        Preflight.Findings findings = Preflight.run(cfg, true);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        findings.warnings().forEach(w -> err.println("warning: " + w));
        findings.problems().forEach(err::println);
        err.flush();
        if (!findings.problems().isEmpty()) {
            return 2;
        }
        out.println(config + ": ok");
        out.flush();
        return 0;
    }
}
