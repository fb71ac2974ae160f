package io.relay.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.relay.admin.api.AdminApi;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl users}: the SMTP AUTH users of the whole cluster (submission ports 587 and
 * 465), mirroring {@code /admin/v1/users}. The password comes from standard input (one
 * line) when it is not a terminal, from two prompts without echo when it is, or from
 * {@code --generate}, which prints it once; never from the command line. The node keeps only
 * a hash, and no listing shows either.
 */
@Command(name = "users", mixinStandardHelpOptions = true,
        description = "List, add or remove SMTP AUTH users, or change a password, on every node (passwords are never shown).",
        subcommands = {UsersCommand.ListUsers.class, UsersCommand.AddUser.class, UsersCommand.Passwd.class,
                UsersCommand.RemoveUser.class})
final class UsersCommand extends AdminGroup {
    static final String PATH = "admin/v1/users";
    /** 24 characters of 64: 144 bits, beyond guessing at any rate the lockout allows. */
    static final int GENERATED_LENGTH = 24;
    private static final char[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    UsersCommand() {
        super("list, add, passwd or remove");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show users, their senders and rates.")
    static final class ListUsers extends AdminCall {
        @Override
        public Integer call() {
            AdminApi.Users u = client().get(PATH, AdminApi.Users.class);
            return printAnswer(out -> table(out, u), u.warnings());
        }
    }

    /** What add and passwd share: where the password comes from, and printing a generated one once. */
    abstract static class WithPassword extends AdminCall {
        @Option(names = "--generate", description = "make a random password (" + GENERATED_LENGTH
                + " characters) and print it once")
        boolean generate;

        String password(String name) {
            if (generate) {
                char[] pw = new char[GENERATED_LENGTH];
                for (int i = 0; i < pw.length; i++) {
                    pw[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
                }
                return new String(pw);
            }
            String line;
            Console console = System.console();
            if (console != null && group.root.stdin == System.in) {
                char[] a = console.readPassword("password for %s: ", name);
                char[] b = console.readPassword("again: ");
                if (a == null || b == null || !Arrays.equals(a, b)) {
                    throw new CliFailure("the two passwords differ; nothing changed");
                }
                line = new String(a);
            } else {
                try {
                    line = new BufferedReader(new InputStreamReader(group.root.stdin, StandardCharsets.UTF_8)).readLine();
                } catch (IOException e) {
                    throw new CliFailure("cannot read the password from stdin — pipe it in or use --generate");
                }
            }
            if (line == null || line.isEmpty()) {
                throw new CliFailure("no password given — pipe it on stdin (one line) or use --generate");
            }
            return line;
        }

        /** The answer, with the generated password once: a line before the table, or a field of the JSON. */
        int printWith(String name, String password, AdminApi.Users u) {
            if (!generate) {
                return printAnswer(out -> table(out, u), u.warnings());
            }
            if (json()) {
                try {
                    JsonNode tree = AdminClient.JSON.readTree(client().lastBody());
                    if (tree instanceof ObjectNode o) {
                        o.put("generatedPassword", password);
                    }
                    return print(tree, out -> { });
                } catch (JsonProcessingException e) {
                    throw new CliFailure("the node's answer is not JSON; the password was set — change it with users passwd");
                }
            }
            PrintWriter out = out();
            out.println("generated password for " + name + " (shown once): " + password);
            return printAnswer(o -> table(o, u), u.warnings());
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = "Add user NAME; the password comes from stdin (one line), a prompt on a terminal, or --generate.")
    static final class AddUser extends WithPassword {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @Option(names = "--sender", paramLabel = "ADDRESS|@DOMAIN",
                description = "an envelope sender the user may use; repeatable (none: any sender)")
        List<String> senders = new ArrayList<>();
        @Option(names = "--rate", paramLabel = "N/unit",
                description = "the user's messages per s, m, h or d for the whole cluster (e.g. 100/m); repeatable")
        List<String> rates = new ArrayList<>();

        @Override
        public Integer call() {
            String password = password(name);
            AdminApi.Users u = client().post(PATH, new AdminApi.UsersChange(
                    new AdminApi.UserAdd(name, password, senders, rates), null, null), AdminApi.Users.class);
            return printWith(name, password, u);
        }
    }

    @Command(name = "passwd", mixinStandardHelpOptions = true,
            description = "Change the password of NAME; from stdin (one line), a prompt on a terminal, or --generate.")
    static final class Passwd extends WithPassword {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            String password = password(name);
            AdminApi.Users u = client().post(PATH, new AdminApi.UsersChange(
                    null, new AdminApi.UserPassword(name, password), null), AdminApi.Users.class);
            return printWith(name, password, u);
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove users; they can no longer log in.")
    static final class RemoveUser extends AdminCall {
        @Parameters(arity = "1..*", paramLabel = "NAME")
        List<String> names = new ArrayList<>();

        @Override
        public Integer call() {
            AdminApi.Users u = client().post(PATH, new AdminApi.UsersChange(null, null, names), AdminApi.Users.class);
            return printAnswer(out -> table(out, u), u.warnings());
        }
    }

    private static void table(PrintWriter out, AdminApi.Users u) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NAME", "SENDERS", "RATES"});
        for (AdminApi.UserEntry e : u.users()) {
            rows.add(new String[] {e.name(),
                    e.senders() == null || e.senders().isEmpty() ? "(any)" : String.join(", ", e.senders()),
                    e.rates() == null || e.rates().isEmpty() ? "(none)" : String.join(", ", e.rates())});
        }
        Table.print(out, rows);
    }
}
