package io.relay.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code relayctl limits}: rate and concurrency limits per next hop for the whole cluster,
 * mirroring {@code /admin/v1/limits}. They lie over the transports' own settings; the node
 * checks the rates.
 */
@Command(name = "limits", mixinStandardHelpOptions = true,
        description = "List, set or remove rate and concurrency limits per next hop, on every node.",
        subcommands = {LimitsCommand.ListLimits.class, LimitsCommand.SetLimits.class, LimitsCommand.RemoveLimits.class})
final class LimitsCommand implements Runnable {
    static final String PATH = "admin/v1/limits";

    @ParentCommand
    RelayCtl root;
    @Spec
    CommandSpec self;

    @Override
    public void run() {
        throw new ParameterException(self.commandLine(), "missing subcommand: list, set or remove");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the limits set by admin.")
    static final class ListLimits implements Callable<Integer> {
        @ParentCommand
        LimitsCommand parent;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            AdminClient client = parent.root.client();
            print(spec, parent.root.json, client, client.get(PATH, ApiRecords.Limits.class));
            return 0;
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
            description = "Limit deliveries to NEXTHOP across the cluster; what is not given keeps its value.")
    static final class SetLimits implements Callable<Integer> {
        @ParentCommand
        LimitsCommand parent;
        @Spec
        CommandSpec spec;
        @Parameters(paramLabel = "NEXTHOP", description = "e.g. [email-smtp.eu-west-1.amazonaws.com]:587, or a bare host")
        String nexthop;
        @Option(names = "--rate", paramLabel = "R", description = "N/unit, unit s, m, h or d (e.g. 14/s, 50000/d); repeatable")
        List<String> rates = new ArrayList<>();
        @Option(names = "--concurrency", paramLabel = "N", description = "connections to NEXTHOP across the cluster")
        Integer concurrency;

        @Override
        public Integer call() {
            if (rates.isEmpty() && concurrency == null) {
                throw new ParameterException(spec.commandLine(), "give --rate, --concurrency or both");
            }
            AdminClient client = parent.root.client();
            print(spec, parent.root.json, client, client.post(PATH, new ApiRecords.LimitsChange(
                    Map.of(nexthop, new ApiRecords.Limit(rates.isEmpty() ? null : rates, concurrency)), null),
                    ApiRecords.Limits.class));
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Take the admin limits of NEXTHOP away (its transport's limits apply again).")
    static final class RemoveLimits implements Callable<Integer> {
        @ParentCommand
        LimitsCommand parent;
        @Spec
        CommandSpec spec;
        @Parameters(arity = "1..*", paramLabel = "NEXTHOP")
        List<String> nexthops = new ArrayList<>();

        @Override
        public Integer call() {
            AdminClient client = parent.root.client();
            print(spec, parent.root.json, client, client.post(PATH, new ApiRecords.LimitsChange(null, nexthops),
                    ApiRecords.Limits.class));
            return 0;
        }
    }

    private static void print(CommandSpec spec, boolean json, AdminClient client, ApiRecords.Limits l) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, client);
        } else {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"NEXTHOP", "RATES", "CONCURRENCY"});
            for (ApiRecords.LimitEntry e : l.limits()) {
                rows.add(new String[] {e.nexthop(),
                        e.rates() == null || e.rates().isEmpty() ? "(transport's)" : String.join(", ", e.rates()),
                        e.concurrency() == null ? "(transport's)" : e.concurrency().toString()});
            }
            Table.print(out, rows);
            out.flush();
        }
        Output.warnings(spec.commandLine().getErr(), json, l.warnings());
    }
}
