package io.relay.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.List;

/** What the routing commands share: the answer as pretty JSON for --json, warnings on stderr. */
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

    static void warnings(PrintWriter err, boolean json, List<String> warnings) {
        if (warnings != null && !json) {
            warnings.forEach(w -> err.println("warning: " + w));
            err.flush();
        }
    }
}
