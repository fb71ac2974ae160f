package io.relay.cli;

import io.relay.admin.api.AdminApi;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl credentials}: SASL credentials per next hop for the whole cluster,
 * mirroring {@code /admin/v1/credentials}. The password is read from {@code --password-file}
 * or stdin (without echo on a terminal), never from the command line, and never printed.
 */
@Command(name = "credentials", mixinStandardHelpOptions = true,
        description = "List, set or remove SASL credentials per next hop, on every node (passwords are never shown).",
        subcommands = {CredentialsCommand.ListCredentials.class, CredentialsCommand.SetCredentials.class,
                CredentialsCommand.RemoveCredentials.class})
final class CredentialsCommand extends AdminGroup {
    static final String PATH = "admin/v1/credentials";

    CredentialsCommand() {
        super("list, set or remove");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show next hops and users (no passwords).")
    static final class ListCredentials extends AdminCall {
        @Override
        public Integer call() {
            AdminApi.Credentials c = client().get(PATH, AdminApi.Credentials.class);
            return printAnswer(out -> table(out, c), c.warnings());
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
            description = "Authenticate to NEXTHOP as USER; the password comes from --password-file or stdin.")
    static final class SetCredentials extends AdminCall {
        @Parameters(index = "0", paramLabel = "NEXTHOP", description = "e.g. [email-smtp.eu-west-1.amazonaws.com]:587, or a bare host")
        String nexthop;
        @Parameters(index = "1", paramLabel = "USER")
        String user;
        @Option(names = "--password-file", paramLabel = "FILE",
                description = "file whose first line is the password (default: read it from stdin)")
        Path passwordFile;

        @Override
        public Integer call() {
            String password = password();
            AdminApi.Credentials c = client().post(PATH, new AdminApi.CredentialsChange(
                    new AdminApi.CredentialSet(nexthop, user, password), null), AdminApi.Credentials.class);
            return printAnswer(out -> table(out, c), c.warnings());
        }

        private String password() {
            String line;
            if (passwordFile != null) {
                try {
                    line = Files.readString(passwordFile, StandardCharsets.UTF_8).lines().findFirst().orElse("");
                } catch (NoSuchFileException e) {
                    throw new CliFailure("password file " + passwordFile + " does not exist — check --password-file");
                } catch (IOException e) {
                    throw new CliFailure("cannot read password file " + passwordFile + " ("
                            + e.getClass().getSimpleName() + ") — check --password-file and its permissions");
                }
            } else {
                Console console = System.console();
                if (console != null && group.root.stdin == System.in) {
                    char[] pw = console.readPassword("password for %s at %s: ", user, nexthop);
                    line = pw == null ? "" : new String(pw);
                } else {
                    try {
                        line = new BufferedReader(new InputStreamReader(group.root.stdin, StandardCharsets.UTF_8)).readLine();
                    } catch (IOException e) {
                        throw new CliFailure("cannot read the password from stdin — pipe it in or use --password-file");
                    }
                }
            }
            if (line == null || line.isEmpty()) {
                throw new CliFailure("no password given — pipe it on stdin or use --password-file FILE");
            }
            return line;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Forget the admin credentials of NEXTHOP.")
    static final class RemoveCredentials extends AdminCall {
        @Parameters(arity = "1..*", paramLabel = "NEXTHOP")
        List<String> nexthops = new ArrayList<>();

        @Override
        public Integer call() {
            AdminApi.Credentials c = client().post(PATH, new AdminApi.CredentialsChange(null, nexthops),
                    AdminApi.Credentials.class);
            return printAnswer(out -> table(out, c), c.warnings());
        }
    }

    private static void table(PrintWriter out, AdminApi.Credentials c) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NEXTHOP", "USER"});
        for (AdminApi.CredentialEntry e : c.credentials()) {
            rows.add(new String[] {e.nexthop(), e.user()});
        }
        Table.print(out, rows);
    }
}
