package io.relay.deploy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The client side of the container suite: SMTP sessions through the load balancer, each
 * message tagged {@code X-Test-Tag: PREFIX-N}. It records which tags got {@code 250} at end
 * of DATA (acknowledged), which got a 4xx/5xx (refused) and which were left without a reply
 * because the session broke (failed). A broken session is followed by a new connection.
 */
final class SmtpLoad {
    private final String host;
    private final int port;
    private final String prefix;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger sent = new AtomicInteger();
    private final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    private final Set<String> refused = ConcurrentHashMap.newKeySet();
    private final Set<String> failed = ConcurrentHashMap.newKeySet();
    private final Set<String> errors = ConcurrentHashMap.newKeySet();
    private final AtomicInteger sessions = new AtomicInteger();
    private final AtomicBoolean stop = new AtomicBoolean();

    SmtpLoad(String host, int port, String prefix) {
        this.host = host;
        this.port = port;
        this.prefix = prefix;
    }

    String prefix() {
        return prefix;
    }

    /**
     * Sends up to {@code total} messages over {@code parallel} connections of at most
     * {@code perSession} messages each; returns when all were tried, {@link #stop()} was
     * called, or the deadline passed. {@code pauseMillis} between messages keeps a steady rate.
     */
    void run(int total, int parallel, int perSession, long pauseMillis, Duration deadline) throws InterruptedException {
        long end = System.nanoTime() + deadline.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(parallel);
        for (int i = 0; i < parallel; i++) {
            pool.execute(() -> {
                while (!stop.get() && System.nanoTime() < end && next.get() < total) {
                    try {
                        session(total, perSession, pauseMillis, end);
                    } catch (IOException e) {
                        errors.add(e.getMessage());
                        sleep(100);
                    }
                }
            });
        }
        pool.shutdown();
        if (!pool.awaitTermination(deadline.toMillis() + 30_000, TimeUnit.MILLISECONDS)) {
            pool.shutdownNow();
        }
    }

    private void session(int total, int perSession, long pauseMillis, long end) throws IOException {
        try (Socket sock = new Socket()) {
            sock.connect(new InetSocketAddress(host, port), 3000);
            sock.setSoTimeout(20_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = sock.getOutputStream();
            expect(in, "220");
            sessions.incrementAndGet();
            send(out, "EHLO load.test\r\n");
            expect(in, "250");
            for (int i = 0; i < perSession && !stop.get() && System.nanoTime() < end; i++) {
                int n = next.getAndIncrement();
                if (n >= total) {
                    break;
                }
                String tag = prefix + "-" + n;
                sent.incrementAndGet();
                failed.add(tag); // until a reply settles it
                send(out, "MAIL FROM:<load@app.test>\r\nRCPT TO:<rcpt" + (n % 5) + "@example.com>\r\nDATA\r\n");
                String mail = expect(in, null);
                String rcpt = expect(in, null);
                String data = expect(in, null);
                if (!mail.startsWith("250") || !rcpt.startsWith("250") || !data.startsWith("354")) {
                    failed.remove(tag);
                    refused.add(tag);
                    errors.add(mail + " / " + rcpt + " / " + data);
                    send(out, "RSET\r\n");
                    expect(in, null);
                    continue;
                }
                send(out, message(tag));
                String reply = expect(in, null);
                failed.remove(tag);
                if (reply.startsWith("250")) {
                    acknowledged.add(tag);
                } else {
                    refused.add(tag);
                    errors.add(reply);
                }
                if (pauseMillis > 0) {
                    sleep(pauseMillis);
                }
            }
            send(out, "QUIT\r\n");
            expect(in, "221");
        }
    }

    private static String message(String tag) {
        StringBuilder b = new StringBuilder(2300);
        b.append("From: load@app.test\r\nTo: rcpt@example.com\r\nSubject: deploy suite ").append(tag)
                .append("\r\nMessage-ID: <").append(tag).append("@app.test>\r\nX-Test-Tag: ").append(tag)
                .append("\r\n\r\n");
        while (b.length() < 2048) {
            b.append("The quick brown fox jumps over the lazy dog 0123456789 abcdefghij.\r\n");
        }
        return b.append(".\r\n").toString();
    }

    private static void send(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

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

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void stop() {
        stop.set(true);
    }

    int sent() {
        return sent.get();
    }

    Set<String> acknowledged() {
        return Set.copyOf(acknowledged);
    }

    Set<String> refused() {
        return Set.copyOf(refused);
    }

    Set<String> failed() {
        return Set.copyOf(failed);
    }

    /** Distinct connection errors and non-250 replies seen (for the failure message). */
    Set<String> errors() {
        return Set.copyOf(errors);
    }

    /** Sessions that got the 220 greeting: each is one "connect from" in some node's mail log. */
    int sessions() {
        return sessions.get();
    }
}
