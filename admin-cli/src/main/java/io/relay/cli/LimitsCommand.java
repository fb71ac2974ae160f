package io.relay.cli;

import io.relay.admin.api.AdminApi;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl limits}: rate and concurrency limits per next hop for the whole cluster,
 * mirroring {@code /admin/v1/limits}. They lie over the transports' own settings; the node
 * checks the rates.
 */
@Command(name = "limits", mixinStandardHelpOptions = true,
        description = "List, set or remove rate and concurrency limits per next hop, on every node.",
        subcommands = {LimitsCommand.ListLimits.class, LimitsCommand.SetLimits.class, LimitsCommand.RemoveLimits.class})
final class LimitsCommand extends AdminGroup {
    static final String PATH = "admin/v1/limits";

    LimitsCommand() {
        super("list, set or remove");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the limits set by admin.")
    static final class ListLimits extends AdminCall {
        @Override
        public Integer call() {
            AdminApi.Limits l = client().get(PATH, AdminApi.Limits.class);
            return printAnswer(out -> table(out, l), l.warnings());
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
            description = "Limit deliveries to NEXTHOP across the cluster; what is not given keeps its value.")
    static final class SetLimits extends AdminCall {
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
            AdminApi.Limits l = client().post(PATH, new AdminApi.LimitsChange(
                    Map.of(nexthop, new AdminApi.Limit(rates.isEmpty() ? null : rates, concurrency)), null),
                    AdminApi.Limits.class);
            return printAnswer(out -> table(out, l), l.warnings());
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Take the admin limits of NEXTHOP away (its transport's limits apply again).")
    static final class RemoveLimits extends AdminCall {
        @Parameters(arity = "1..*", paramLabel = "NEXTHOP")
        List<String> nexthops = new ArrayList<>();

        @Override
        public Integer call() {
            AdminApi.Limits l = client().post(PATH, new AdminApi.LimitsChange(null, nexthops),
                    AdminApi.Limits.class);
            return printAnswer(out -> table(out, l), l.warnings());
        }
    }

    private static void table(PrintWriter out, AdminApi.Limits l) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NEXTHOP", "RATES", "CONCURRENCY"});
        for (AdminApi.LimitEntry e : l.limits()) {
            rows.add(new String[] {e.nexthop(),
                    e.rates() == null || e.rates().isEmpty() ? "(transport's)" : String.join(", ", e.rates()),
                    e.concurrency() == null ? "(transport's)" : e.concurrency().toString()});
        }
        Table.print(out, rows);
    }
}
