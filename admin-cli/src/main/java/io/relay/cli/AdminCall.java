package io.relay.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * A subcommand of an {@link AdminGroup}: the client, {@code --json} and the streams of this
 * invocation, and how an answer is printed (text, or JSON with {@code --json}). Failures
 * are thrown: a {@link CliFailure} exits 1 with its one line, a usage error 2 (see
 * {@link RelayCtl}); a printed answer exits 0.
 */
abstract class AdminCall implements Callable<Integer> {
    @ParentCommand
    AdminGroup group;
    @Spec
    CommandSpec spec;

    private AdminClient client;

    /** The client for the node of {@code --node}, made on first use. */
    AdminClient client() {
        if (client == null) {
            client = group.root.client();
        }
        return client;
    }

    boolean json() {
        return group.root.json;
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /**
     * Prints the client's last answer: its JSON as the node sent it (pretty) with {@code --json},
     * else {@code text}; then the node's warnings on stderr, not with {@code --json}.
     */
    int printAnswer(Consumer<PrintWriter> text, List<String> warnings) {
        print(out -> Output.json(out, client()), text);
        Output.warnings(err(), json(), warnings);
        return 0;
    }

    /** Prints {@code tree} as pretty JSON with {@code --json}, else {@code text}. */
    int print(JsonNode tree, Consumer<PrintWriter> text) {
        return print(out -> Output.json(out, tree), text);
    }

    private int print(Consumer<PrintWriter> json, Consumer<PrintWriter> text) {
        PrintWriter out = out();
        if (json()) {
            json.accept(out);
        } else {
            text.accept(out);
            out.flush();
        }
        return 0;
    }
}
