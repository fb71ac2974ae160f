package io.relay.cli;

import io.relay.admin.api.AdminApi;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl networks}: mynetworks for the whole cluster, mirroring
 * {@code /admin/v1/networks}. {@code add} and {@code remove} apply one change set; the node
 * refuses invalid CIDRs and, without {@code --force}, networks that would open the relay
 * to the Internet.
 */
@Command(name = "networks", mixinStandardHelpOptions = true,
        description = "List, add or remove the client networks allowed to relay (mynetworks), on every node.",
        subcommands = {NetworksCommand.ListNetworks.class, NetworksCommand.AddNetworks.class,
                NetworksCommand.RemoveNetworks.class})
final class NetworksCommand extends AdminGroup {
    static final String PATH = "admin/v1/networks";

    NetworksCommand() {
        super("list, add or remove");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the networks in force.")
    static final class ListNetworks extends AdminCall {
        @Override
        public Integer call() {
            AdminApi.Networks n = client().get(PATH, AdminApi.Networks.class);
            return printAnswer(out -> table(out, n), null);
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = "Allow clients in these networks to relay (host bits set are cleared, with a warning).")
    static final class AddNetworks extends AdminCall {
        @Parameters(arity = "1..*", paramLabel = "CIDR", description = "e.g. 10.9.0.0/16 or 2001:db8:1::/48")
        List<String> networks = new ArrayList<>();
        @Option(names = "--force", description = "Accept a network that opens the relay to the Internet"
                + " (0.0.0.0/0, ::/0, a public range wider than /16): an open relay is abused by spammers within hours.")
        boolean force;

        @Override
        public Integer call() {
            AdminApi.Networks n = client().post(PATH, new AdminApi.NetworksChange(networks, null, force),
                    AdminApi.Networks.class);
            return printAnswer(out -> table(out, n), n.warnings());
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Stop these networks from relaying.")
    static final class RemoveNetworks extends AdminCall {
        @Parameters(arity = "1..*", paramLabel = "CIDR", description = "networks as listed by 'networks list'")
        List<String> networks = new ArrayList<>();

        @Override
        public Integer call() {
            AdminApi.Networks n = client().post(PATH, new AdminApi.NetworksChange(null, networks, false),
                    AdminApi.Networks.class);
            return printAnswer(out -> table(out, n), n.warnings());
        }
    }

    private static void table(PrintWriter out, AdminApi.Networks n) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NETWORK", "SOURCE"});
        for (String net : n.networks()) {
            rows.add(new String[] {net, n.added() != null && n.added().contains(net) ? "admin" : "config"});
        }
        if (n.removed() != null) {
            for (String net : n.removed()) {
                rows.add(new String[] {net, "config, removed by admin (not in force)"});
            }
        }
        Table.print(out, rows);
    }
}
