package io.relay.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

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
final class NetworksCommand implements Runnable {
    static final String PATH = "admin/v1/networks";

    @ParentCommand
    RelayCtl root;
    @Spec
    CommandSpec self;

    @Override
    public void run() {
        throw new ParameterException(self.commandLine(), "missing subcommand: list, add or remove");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the networks in force.")
    static final class ListNetworks implements Callable<Integer> {
        @ParentCommand
        NetworksCommand parent;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            AdminClient client = parent.root.client();
            ApiRecords.Networks n = client.get(PATH, ApiRecords.Networks.class);
            print(spec.commandLine().getOut(), parent.root.json, client, n);
            return 0;
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = "Allow clients in these networks to relay (host bits set are cleared, with a warning).")
    static final class AddNetworks implements Callable<Integer> {
        @ParentCommand
        NetworksCommand parent;
        @Spec
        CommandSpec spec;
        @Parameters(arity = "1..*", paramLabel = "CIDR", description = "e.g. 10.9.0.0/16 or 2001:db8:1::/48")
        List<String> networks = new ArrayList<>();
        @Option(names = "--force", description = "Accept a network that opens the relay to the Internet"
                + " (0.0.0.0/0, ::/0, a public range wider than /16): an open relay is abused by spammers within hours.")
        boolean force;

        @Override
        public Integer call() {
            AdminClient client = parent.root.client();
            ApiRecords.Networks n = client.post(PATH, new ApiRecords.NetworksChange(networks, null, force),
                    ApiRecords.Networks.class);
            print(spec.commandLine().getOut(), parent.root.json, client, n);
            warn(spec.commandLine().getErr(), parent.root.json, n);
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Stop these networks from relaying.")
    static final class RemoveNetworks implements Callable<Integer> {
        @ParentCommand
        NetworksCommand parent;
        @Spec
        CommandSpec spec;
        @Parameters(arity = "1..*", paramLabel = "CIDR", description = "networks as listed by 'networks list'")
        List<String> networks = new ArrayList<>();

        @Override
        public Integer call() {
            AdminClient client = parent.root.client();
            ApiRecords.Networks n = client.post(PATH, new ApiRecords.NetworksChange(null, networks, false),
                    ApiRecords.Networks.class);
            print(spec.commandLine().getOut(), parent.root.json, client, n);
            warn(spec.commandLine().getErr(), parent.root.json, n);
            return 0;
        }
    }

    private static void print(PrintWriter out, boolean json, AdminClient client, ApiRecords.Networks n) {
        if (json) {
            try {
                JsonNode tree = AdminClient.JSON.readTree(client.lastBody());
                out.println(AdminClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(tree));
            } catch (JsonProcessingException e) {
                out.println(client.lastBody());
            }
            out.flush();
            return;
        }
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
        out.flush();
    }

    private static void warn(PrintWriter err, boolean json, ApiRecords.Networks n) {
        if (n.warnings() != null && !json) {
            n.warnings().forEach(w -> err.println("warning: " + w));
            err.flush();
        }
    }
}
