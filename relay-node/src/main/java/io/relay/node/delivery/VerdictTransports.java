package io.relay.node.delivery;

import io.relay.routing.Agent;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The transports that decide a recipient's outcome without carrying the message anywhere, as
 * Postfix's discard and error agents do: discard (sent, "discarded"), error (bounced with the
 * route's text) and defer (kept in the queue and retried). A text that starts with an
 * enhanced status code ("5.1.2 no such domain") gives its code to the log line and the DSN.
 */
final class VerdictTransports {
    private static final Pattern LEADING_DSN = Pattern.compile("^[45]\\.\\d{1,3}\\.\\d{1,3}\\b");

    private VerdictTransports() {
    }

    static List<Attempted> discard(Agent.Discard discard, List<String> rcpts) {
        String text = discard.text().isEmpty() ? "discarded" : discard.text();
        List<Attempted> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(Attempted.local("discard", "none", RecipientResult.sent(r, text)));
        }
        return out;
    }

    static List<Attempted> bounce(Agent.Bounce bounce, List<String> rcpts) {
        String text = bounce.text().isEmpty() ? "delivery refused by the error transport" : bounce.text();
        List<Attempted> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(Attempted.local("error", "none", RecipientResult.bounced(r, leadingDsn(text, "5.0.0"), text)));
        }
        return out;
    }

    /** An unknown transport defers with 4.3.0, as Postfix's "mail transport unavailable". */
    static List<Attempted> defer(Agent.Defer defer, List<String> rcpts) {
        String text = defer.reason().isEmpty() ? "delivery temporarily suspended" : defer.reason();
        String code = text.startsWith("mail transport unavailable") ? "4.3.0" : "4.0.0";
        List<Attempted> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(Attempted.local("error", "none", RecipientResult.deferred(r, leadingDsn(text, code), text)));
        }
        return out;
    }

    private static String leadingDsn(String text, String otherwise) {
        Matcher m = LEADING_DSN.matcher(text);
        return m.find() ? m.group() : otherwise;
    }
}
