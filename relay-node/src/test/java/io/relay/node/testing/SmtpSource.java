package io.relay.node.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Postfix's smtp-source as a bulk sender: many small one-recipient messages, fast, over
 * reused sessions ({@code -d}), each to its own recipient ({@code -N} numbers them:
 * {@code 1x0@domain}, {@code 2x0@domain}, ...), so the upstream can count which arrived and
 * how often. smtp-source stops at the first reply it did not expect (without {@code -A}),
 * so an exit status of 0 means every message got 250.
 */
public final class SmtpSource {
    /** One smtp-source run: where to, how many, and the recipient its numbers are prepended to. */
    public record Batch(String host, int port, int messages, String recipient) {
    }

    private SmtpSource() {
    }

    /**
     * Runs every batch at once, each with {@code sessions} parallel sessions and
     * {@code bodyBytes} of payload from {@code sender}; asserts each one exited 0 within
     * {@code timeout}.
     */
    public static void send(List<Batch> batches, int sessions, int bodyBytes, String sender, Duration timeout)
            throws Exception {
        Tools.require(Tools.SMTP_SOURCE);
        ExecutorService pool = Executors.newFixedThreadPool(batches.size());
        try {
            List<Future<Tools.Run>> runs = new ArrayList<>();
            for (Batch b : batches) {
                runs.add(pool.submit(() -> Tools.run(timeout, Tools.SMTP_SOURCE, "-d", "-N",
                        "-s", Integer.toString(sessions), "-m", Integer.toString(b.messages()),
                        "-l", Integer.toString(bodyBytes), "-f", sender, "-t", b.recipient(),
                        b.host() + ":" + b.port())));
            }
            for (int i = 0; i < batches.size(); i++) {
                Tools.Run r = runs.get(i).get();
                assertEquals(0, r.exit(), "smtp-source to " + batches.get(i) + ": " + r.output());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** The recipient smtp-source gives message {@code n} (1-based) of a batch with {@code recipient}. */
    public static String recipient(int n, String recipient) {
        return n + recipient;
    }
}
