package io.relay.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.relay.admin.api.AdminApi;
import io.relay.routing.ImportResult;
import io.relay.routing.NotCarried;
import io.relay.routing.PostfixFiles;
import io.relay.routing.PostfixImport;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code relayctl import-postfix DIR [--dry-run]}: brings a Postfix relay setup's
 * mynetworks, transport table, SASL credentials and destination limits to the running
 * cluster. Reads DIR with the routing module's importer ({@link PostfixImport}; a table
 * named by path, e.g. {@code hash:/etc/postfix/transport}, is read from DIR under its file
 * name first, then from the path), maps it to the admin classes ({@link PostfixPlan}),
 * and asks the node ({@code POST /admin/v1/import}, dry run) what would change: the node
 * compares with the cluster's state, since only it knows whether a stored password differs.
 * Prints that difference per class, and what the import cannot carry; with
 * {@code --dry-run} it stops there, otherwise it applies everything as one change and says
 * which version is now in force. Progress lines go to stderr on a terminal only.
 */
@Command(name = "import-postfix", mixinStandardHelpOptions = true,
        description = {"Apply a Postfix setup's mynetworks, transport table, sasl_passwd credentials and destination"
                + " limits to the whole cluster, after showing the difference.",
                "Each class the setup has replaces what is in force (entries it lacks are removed); settings that"
                        + " belong in relay.yaml are listed as not carried."})
final class ImportPostfixCommand implements Callable<Integer> {
    static final String PATH = "admin/v1/import";

    @ParentCommand
    RelayCtl root;
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIR", description = "Postfix configuration directory (main.cf, master.cf, the tables' text sources)")
    Path dir;

    @Option(names = "--dry-run", description = "Show the difference and change nothing.")
    boolean dryRun;

    @Option(names = "--force", description = "Allow networks that make the relay an open relay (see networks add --force).")
    boolean force;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Progress progress = new Progress(err, root.terminal && !root.json);
        progress.say("reading " + dir);
        ImportResult imported = read();
        PostfixPlan.Plan plan;
        try {
            plan = PostfixPlan.from(imported, this::table);
        } catch (IllegalArgumentException e) {
            throw new CliFailure(dir + ": " + e.getMessage());
        }
        AdminClient client = root.client();
        progress.say("comparing with the cluster through " + client.node());
        AdminApi.ImportAnswer preview = client.post(PATH, request(plan, true), AdminApi.ImportAnswer.class);
        AdminApi.ImportAnswer applied = null;
        if (!dryRun && !preview.changes().isEmpty()) {
            progress.say("applying " + preview.changes().size() + " change" + (preview.changes().size() == 1 ? "" : "s")
                    + " to the cluster");
            applied = client.post(PATH, request(plan, false), AdminApi.ImportAnswer.class);
            progress.say("done: version " + applied.version() + " in force");
        }
        progress.clear();
        if (root.json) {
            json(out, preview, applied, plan.notCarried());
            return 0;
        }
        List<String> warnings = new ArrayList<>();
        if (preview.warnings() != null) {
            warnings.addAll(preview.warnings());
        }
        Output.warnings(err, false, warnings);
        printDiff(out, preview.changes());
        if (!plan.notCarried().isEmpty()) {
            out.println();
            out.println("not carried over (" + plan.notCarried().size() + "):");
            for (NotCarried n : plan.notCarried()) {
                out.println("  " + n.setting() + (n.value() == null || n.value().isEmpty() ? "" : " = " + n.value())
                        + " — " + n.reason());
            }
        }
        out.println();
        if (preview.changes().isEmpty()) {
            out.println("nothing to change: the cluster already has this setup (version " + preview.version() + ")");
        } else if (dryRun) {
            out.println("dry run: nothing changed; run without --dry-run to apply " + count(preview.changes().size()));
        } else {
            if (!applied.changes().equals(preview.changes())) {
                out.println("the cluster changed in between; applied instead:");
                printDiff(out, applied.changes());
            }
            out.println("applied " + count(applied.changes().size()) + " as version " + applied.version()
                    + "; every node follows within a second");
        }
        out.flush();
        return 0;
    }

    private static String count(int n) {
        return n + " change" + (n == 1 ? "" : "s");
    }

    private ImportResult read() {
        Path mainCf = dir.resolve("main.cf");
        if (!Files.isReadable(mainCf)) {
            throw new CliFailure(mainCf + ": cannot read — is " + dir + " a Postfix configuration directory?");
        }
        try {
            Path masterCf = dir.resolve("master.cf");
            return PostfixImport.run(new PostfixFiles(Files.readString(mainCf),
                    Files.isReadable(masterCf) ? Files.readString(masterCf) : "", this::table));
        } catch (IOException e) {
            throw new CliFailure("cannot read " + dir + ": " + e.getClass().getSimpleName());
        } catch (IllegalArgumentException e) {
            throw new CliFailure(dir + ": " + e.getMessage());
        }
    }

    /** A table's text source: DIR/<file name> first (a copied directory), then the path as written. */
    private Optional<String> table(String path) {
        for (Path p : new Path[] {dir.resolve(Path.of(path).getFileName().toString()), Path.of(path)}) {
            if (Files.isReadable(p)) {
                try {
                    return Optional.of(Files.readString(p));
                } catch (IOException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }

    private AdminApi.ImportRequest request(PostfixPlan.Plan plan, boolean preview) {
        return new AdminApi.ImportRequest(plan.networks(), plan.transport(), plan.limits(), plan.credentials(),
                preview, force, dir.toAbsolutePath().normalize().toString());
    }

    /** CLASS  CHANGE  KEY  BEFORE  AFTER, aligned; "-" where a side has nothing. */
    static void printDiff(PrintWriter out, List<AdminApi.ImportChange> changes) {
        if (changes.isEmpty()) {
            out.println("no differences");
            return;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"CLASS", "CHANGE", "KEY", "BEFORE", "AFTER"});
        for (AdminApi.ImportChange c : changes) {
            rows.add(new String[] {c.kind(), c.op(), c.key(), c.before() == null ? "-" : c.before(),
                    c.after() == null ? "-" : c.after()});
        }
        Table.print(out, rows);
    }

    private void json(PrintWriter out, AdminApi.ImportAnswer preview, AdminApi.ImportAnswer applied,
                             List<NotCarried> notCarried) {
        ObjectNode root = AdminClient.JSON.createObjectNode();
        root.put("dryRun", dryRun);
        root.put("applied", applied != null);
        root.put("version", applied == null ? preview.version() : applied.version());
        root.set("changes", AdminClient.JSON.valueToTree(applied == null ? preview.changes() : applied.changes()));
        root.set("warnings", AdminClient.JSON.valueToTree(preview.warnings() == null ? List.of() : preview.warnings()));
        root.set("notCarried", AdminClient.JSON.valueToTree(notCarried));
        try {
            out.println(AdminClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        out.flush();
    }

    /** One status line on stderr, rewritten in place; only when stdout and stdin are a terminal. */
    private static final class Progress {
        private final PrintWriter err;
        private final boolean on;
        private int width;

        Progress(PrintWriter err, boolean on) {
            this.err = err;
            this.on = on;
        }

        void say(String line) {
            if (on) {
                err.print("\r" + line + "…" + " ".repeat(Math.max(0, width - line.length() - 1)));
                width = line.length() + 1;
                err.flush();
            }
        }

        void clear() {
            if (on && width > 0) {
                err.print("\r" + " ".repeat(width) + "\r");
                err.flush();
            }
        }
    }
}
