package io.relay.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.List;

/** What the commands share: answers as pretty JSON for --json, warnings on stderr. */
final class Output {
    private Output() {
    }

    /** Prints the last answer's JSON, pretty. */
    static void json(PrintWriter out, AdminClient client) {
        try {
            JsonNode tree = AdminClient.JSON.readTree(client.lastBody());
            out.println(AdminClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(tree));
        } catch (JsonProcessingException e) {
            out.println(client.lastBody());
        }
        out.flush();
    }

    /** Prints {@code tree}, pretty. */
    static void json(PrintWriter out, JsonNode tree) {
        try {
            out.println(AdminClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(tree));
        } catch (JsonProcessingException e) {
            out.println(tree);
        }
        out.flush();
    }

    static void warnings(PrintWriter err, boolean json, List<String> warnings) {
        if (warnings != null && !json) {
            warnings.forEach(w -> err.println("warning: " + w));
            err.flush();
        }
    }
}
