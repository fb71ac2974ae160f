package io.relay.cli;

import io.relay.admin.api.AdminApi;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl dkim}: the DKIM signing keys of the whole cluster, mirroring
 * {@code /admin/v1/dkim}. The node makes each key and keeps it sealed in the cluster; the
 * private key never reaches relayctl. {@code generate} prints the one zone-file line to
 * publish on stdout (a script can append it to a zone), notes on stderr.
 */
@Command(name = "dkim", mixinStandardHelpOptions = true,
        description = "Generate, list, activate or retire DKIM signing keys of the cluster (private keys are never shown).",
        subcommands = {DkimCommand.ListKeys.class, DkimCommand.Generate.class, DkimCommand.Activate.class,
                DkimCommand.Retire.class})
final class DkimCommand extends AdminGroup {
    static final String PATH = "admin/v1/dkim";

    DkimCommand() {
        super("list, generate, activate or retire");
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Show every key: domain, selector, algorithm, dates, state, and whether its DNS record is published.")
    static final class ListKeys extends AdminCall {
        @Override
        public Integer call() {
            AdminApi.Dkim d = client().get(PATH, AdminApi.Dkim.class);
            return printAnswer(out -> table(out, d), d.warnings());
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Make a key for DOMAIN on the node and print its DNS record; a domain's first key signs at once,"
                    + " later ones wait for dkim activate.")
    static final class Generate extends AdminCall {
        @Parameters(index = "0", paramLabel = "DOMAIN")
        String domain;
        @Option(names = "--algo", paramLabel = "rsa|ed25519", description = "rsa (2048 bits, the default) or ed25519")
        String algorithm;
        @Option(names = "--selector", paramLabel = "S", description = "the selector (default: r or e and today's date)")
        String selector;

        @Override
        public Integer call() {
            AdminApi.Dkim d = client().post(PATH, new AdminApi.DkimChange(
                    new AdminApi.DkimGenerate(domain, algorithm, selector), null, null), AdminApi.Dkim.class);
            return printAnswer(out -> out.println(d.record()), d.warnings());
        }
    }

    @Command(name = "activate", mixinStandardHelpOptions = true,
            description = "Sign DOMAIN's mail with SELECTOR from now on, once its DNS record is seen (or with --force);"
                    + " the key signing before stays until retired.")
    static final class Activate extends AdminCall {
        @Parameters(index = "0", paramLabel = "DOMAIN")
        String domain;
        @Parameters(index = "1", paramLabel = "SELECTOR")
        String selector;
        @Option(names = "--force", description = "activate without the DNS record seen")
        boolean force;

        @Override
        public Integer call() {
            AdminApi.Dkim d = client().post(PATH, new AdminApi.DkimChange(null,
                    new AdminApi.DkimSelect(domain, selector, force ? Boolean.TRUE : null), null), AdminApi.Dkim.class);
            return printAnswer(out -> table(out, d), d.warnings());
        }
    }

    @Command(name = "retire", mixinStandardHelpOptions = true,
            description = "Drop a key that no longer signs (not the active one); its DNS record may then go.")
    static final class Retire extends AdminCall {
        @Parameters(index = "0", paramLabel = "DOMAIN")
        String domain;
        @Parameters(index = "1", paramLabel = "SELECTOR")
        String selector;

        @Override
        public Integer call() {
            AdminApi.Dkim d = client().post(PATH, new AdminApi.DkimChange(null, null,
                    new AdminApi.DkimSelect(domain, selector, null)), AdminApi.Dkim.class);
            return printAnswer(out -> table(out, d), d.warnings());
        }
    }

    private static void table(PrintWriter out, AdminApi.Dkim d) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"DOMAIN", "SELECTOR", "ALGORITHM", "CREATED", "ACTIVATED", "STATE", "DNS"});
        for (AdminApi.DkimKeyInfo k : d.keys()) {
            rows.add(new String[] {k.domain(), k.selector(), k.algorithm(), k.created(),
                    k.activated() == null ? "-" : k.activated(), k.state(), k.dns() == null ? "-" : k.dns()});
        }
        Table.print(out, rows);
    }
}
