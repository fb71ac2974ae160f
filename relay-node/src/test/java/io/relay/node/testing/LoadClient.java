package io.relay.node.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A counting SMTP sender for durability tests: every message carries a unique
 * {@code X-Test-Tag} header, and the client records which tags got a 250 to end-of-DATA
 * (and the queue id the server gave), so the test can check each one arrived upstream.
 * Sessions that break (the node was killed) simply stop; their unanswered message is
 * counted as sent and failed: neither acknowledged nor refused.
 */
public final class LoadClient {
    private final String host;
    private final int port;
    private final AtomicInteger sent = new AtomicInteger();
    private final Map<String, String> acknowledged = new ConcurrentHashMap<>();
    private final Set<String> refused = ConcurrentHashMap.newKeySet();
    private final Set<String> failed = ConcurrentHashMap.newKeySet();
    private final Set<String> errors = ConcurrentHashMap.newKeySet();
    private final AtomicInteger greetedSessions = new AtomicInteger();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Set<String> prefixes = ConcurrentHashMap.newKeySet();

    private final String recipientDomain;

    public LoadClient(String host, int port) {
        this(host, port, "example.com");
    }

    /** A client whose messages go to recipients at {@code recipientDomain}. */
    public LoadClient(String host, int port, String recipientDomain) {
        this.host = host;
        this.port = port;
        this.recipientDomain = recipientDomain;
    }

    /**
     * Sends up to {@code total} messages of about {@code bodyBytes} over {@code sessions}
     * parallel connections, {@code perConnection} messages each, tagged {@code prefix-N};
     * returns when all are tried, {@link #stop()} is called, or the deadline passes.
     */
    public void run(String prefix, int total, int sessions, int perConnection, int bodyBytes, Duration deadline)
            throws InterruptedException {
        run(prefix, total, sessions, perConnection, bodyBytes, 0, deadline);
    }

    /** As {@link #run(String, int, int, int, int, Duration)}, {@code pauseMillis} after each message for a steady rate. */
    public void run(String prefix, int total, int sessions, int perConnection, int bodyBytes, long pauseMillis,
            Duration deadline) throws InterruptedException {
        prefixes.add(prefix);
        AtomicInteger next = new AtomicInteger();
        long end = System.nanoTime() + deadline.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(sessions);
        for (int s = 0; s < sessions; s++) {
            pool.execute(() -> {
                while (!stop.get() && System.nanoTime() < end && next.get() < total) {
                    try {
                        session(prefix, next, total, perConnection, bodyBytes, pauseMillis, end);
                    } catch (IOException e) {
                        errors.add(String.valueOf(e.getMessage()));
                        pause(50); // node down: retry a new connection until the deadline
                    }
                }
            });
        }
        pool.shutdown();
        pool.awaitTermination(deadline.toMillis() + 5000, TimeUnit.MILLISECONDS);
        pool.shutdownNow();
    }

    private void session(String prefix, AtomicInteger next, int total, int perConnection, int bodyBytes,
            long pauseMillis, long end) throws IOException {
        try (Socket sock = new Socket()) {
            sock.connect(new InetSocketAddress(host, port), 2000);
            sock.setSoTimeout(30_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = sock.getOutputStream();
            expect(in, "220");
            greetedSessions.incrementAndGet();
            send(out, "EHLO load.test\r\n");
            expect(in, "250");
            for (int i = 0; i < perConnection && !stop.get() && System.nanoTime() < end; i++) {
                int n = next.getAndIncrement();
                if (n >= total) {
                    break;
                }
                String tag = prefix + "-" + n;
                sent.incrementAndGet();
                failed.add(tag); // until a reply settles it; a broken session leaves it here
                send(out, "MAIL FROM:<load@app.test>\r\nRCPT TO:<rcpt" + (n % 7) + "@" + recipientDomain + ">\r\nDATA\r\n");
                String mail = expect(in, null);
                String rcpt = expect(in, null);
                String data = expect(in, null);
                if (!mail.startsWith("250") || !rcpt.startsWith("250") || !data.startsWith("354")) {
                    refused.add(tag);
                    failed.remove(tag);
                    errors.add(mail + " / " + rcpt + " / " + data);
                    send(out, "RSET\r\n");
                    expect(in, null);
                    continue;
                }
                send(out, message(tag, bodyBytes));
                String reply = expect(in, null);
                if (reply.startsWith("250")) {
                    int at = reply.indexOf("queued as ");
                    acknowledged.put(tag, at < 0 ? "?" : reply.substring(at + 10).trim());
                } else {
                    refused.add(tag);
                    errors.add(reply);
                }
                failed.remove(tag);
                if (pauseMillis > 0) {
                    pause(pauseMillis);
                }
            }
            send(out, "QUIT\r\n");
        }
    }

    static String message(String tag, int bodyBytes) {
        StringBuilder b = new StringBuilder(bodyBytes + 200);
        b.append("From: load@app.test\r\nTo: rcpt@example.com\r\nSubject: load ").append(tag)
                .append("\r\nX-Test-Tag: ").append(tag).append("\r\n\r\n");
        String line = "The quick brown fox jumps over the lazy dog 0123456789 abcdefghij.\r\n";
        while (b.length() < bodyBytes) {
            b.append(line);
        }
        return b.append(".\r\n").toString();
    }

    private static void send(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** Reads one (possibly multi-line) reply and returns its last line. */
    private static String expect(BufferedReader in, String code) throws IOException {
        String line;
        do {
            line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed");
            }
        } while (line.length() > 3 && line.charAt(3) == '-');
        if (code != null && !line.startsWith(code)) {
            throw new IOException("unexpected reply: " + line);
        }
        return line;
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public void stop() {
        stop.set(true);
    }

    public int sent() {
        return sent.get();
    }

    /** Whether {@code tag} is one of this client's ({@code PREFIX-N} of a prefix it ran with). */
    public boolean sentTag(String tag) {
        int dash = tag.lastIndexOf('-');
        return dash > 0 && prefixes.contains(tag.substring(0, dash));
    }

    /** Tag → queue id of every message that got 250. */
    public Map<String, String> acknowledged() {
        return Map.copyOf(acknowledged);
    }

    public Set<String> refused() {
        return Set.copyOf(refused);
    }

    /** Tags of failed transactions: sent, then the session broke before a reply acknowledged or refused them. */
    public Set<String> failed() {
        return Set.copyOf(failed);
    }

    /** Distinct connection errors and non-250 replies seen (for a failure message). */
    public Set<String> errors() {
        return Set.copyOf(errors);
    }

    /** Sessions that got the 220 greeting (and then sent EHLO): each is one {@code connect from} in the mail log. */
    public int greetedSessions() {
        return greetedSessions.get();
    }
}
