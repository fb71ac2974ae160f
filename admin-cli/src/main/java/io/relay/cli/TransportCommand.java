package io.relay.cli;

import io.relay.admin.api.AdminApi;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code relayctl transport}: the transport table for the whole cluster, mirroring
 * {@code /admin/v1/transport}. Admin entries lie over the config file's
 * {@code smtp.transport-maps} and win; {@code import} sends a Postfix transport(5) file's
 * text, which the node parses and applies as one change; {@code test} asks the node
 * which route it takes now.
 */
@Command(name = "transport", mixinStandardHelpOptions = true,
        description = "List, set, remove, import or test transport table entries (transport_maps), on every node.",
        subcommands = {TransportCommand.ListTransport.class, TransportCommand.SetTransport.class,
                TransportCommand.RemoveTransport.class, TransportCommand.ImportTransport.class,
                TransportCommand.TestTransport.class})
final class TransportCommand extends AdminGroup {
    static final String PATH = "admin/v1/transport";

    TransportCommand() {
        super("list, set, remove, import or test");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the transport table in force.")
    static final class ListTransport extends AdminCall {
        @Override
        public Integer call() {
            AdminApi.Transport t = client().get(PATH, AdminApi.Transport.class);
            return printAnswer(out -> table(out, t), t.warnings());
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
            description = "Send mail for PATTERN (user@domain, domain, .domain or *) to [TRANSPORT:]NEXTHOP.")
    static final class SetTransport extends AdminCall {
        @Parameters(index = "0", paramLabel = "PATTERN", description = "e.g. example.com, .example.com, user@example.com")
        String pattern;
        @Parameters(index = "1", paramLabel = "[TRANSPORT:]NEXTHOP",
                description = "e.g. smtp:[mx.example.net]:587, [10.0.0.5], error:no mail here (a bare next hop keeps the default transport)")
        String result;

        @Override
        public Integer call() {
            String r = result.contains(":") && !result.startsWith("[") ? result : ":" + result;
            AdminApi.Transport t = client().post(PATH,
                    new AdminApi.TransportChange(Map.of(pattern, r), null, null, null), AdminApi.Transport.class);
            return printAnswer(out -> table(out, t), t.warnings());
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Take PATTERN out of the transport table (an entry of the config file too).")
    static final class RemoveTransport extends AdminCall {
        @Parameters(arity = "1..*", paramLabel = "PATTERN")
        List<String> patterns = new ArrayList<>();

        @Override
        public Integer call() {
            AdminApi.Transport t = client().post(PATH,
                    new AdminApi.TransportChange(null, patterns, null, null), AdminApi.Transport.class);
            return printAnswer(out -> table(out, t), t.warnings());
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Set every entry of a Postfix transport(5) text file, in one change.")
    static final class ImportTransport extends AdminCall {
        @Parameters(paramLabel = "FILE", description = "the transport file's text form (not the .db)")
        Path file;

        @Override
        public Integer call() {
            String text;
            try {
                text = Files.readString(file, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                throw new CliFailure(file + " does not exist — give the text transport file, e.g. /etc/postfix/transport");
            } catch (IOException e) {
                throw new CliFailure("cannot read " + file + " (" + e.getClass().getSimpleName() + ") — check its permissions");
            }
            AdminApi.Transport t = client().post(PATH,
                    new AdminApi.TransportChange(null, null, text, file.getFileName().toString()),
                    AdminApi.Transport.class);
            return printAnswer(out -> table(out, t), t.warnings());
        }
    }

    @Command(name = "test", mixinStandardHelpOptions = true,
            description = "Print where the node would send mail to ADDRESS now, and why.")
    static final class TestTransport extends AdminCall {
        @Parameters(paramLabel = "ADDRESS", description = "recipient address")
        String address;
        @Option(names = "--sender", paramLabel = "S", defaultValue = "",
                description = "envelope sender (for sender-dependent relayhosts)")
        String sender;

        @Override
        public Integer call() {
            AdminApi.RouteTest t = client().get(PATH + "/test?address=" + URLEncoder.encode(address, StandardCharsets.UTF_8)
                    + "&sender=" + URLEncoder.encode(sender, StandardCharsets.UTF_8), AdminApi.RouteTest.class);
            return printAnswer(out -> out.print(t.text()), null);
        }
    }

    private static void table(PrintWriter out, AdminApi.Transport t) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"PATTERN", "RESULT", "SOURCE"});
        for (AdminApi.TransportEntry e : t.entries()) {
            rows.add(new String[] {e.pattern(), e.result(), e.source()
                    + (e.source().contains("removed") ? " (not in force)" : "")});
        }
        Table.print(out, rows);
    }
}
