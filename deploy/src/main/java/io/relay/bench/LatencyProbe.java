package io.relay.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * The accept-latency probe of the benchmark (deploy/bench/run.sh): sends SMTP messages at a
 * fixed rate and records, per message, the time from writing the end-of-DATA marker
 * ({@code .CRLF}) to reading the {@code 250} reply. smtp-source measures throughput only.
 *
 * <p>Strategy: {@code sessions} threads share one schedule, message {@code i} is due at
 * {@code start + i / rate}; a thread takes the next index, sleeps until it is due, then runs
 * the transaction on its connection (a new one per message, or reused with {@code --reuse},
 * as {@code smtp-source} without/with {@code -d}). Messages due in the first
 * {@code --warmup} seconds are sent but not recorded. When every session is busy the
 * schedule slips; the largest slip is reported, so a probe that could not keep its rate is
 * visible. Blocking sockets, no pipelining (as smtp-source).
 *
 * <p>Output: one JSON line on stdout, e.g. {@code {"rate":500.0,"sent":10000,"ok":10000,
 * "recorded":9000,"p50_ms":1.9,"p99_ms":7.4,...,"errors":{}}}.
 *
 * <p>Usage: {@code LatencyProbe --port P [--host 127.0.0.1] --rate MSGS_PER_S --seconds S
 * [--warmup S] [--sessions 20] [--size BYTES] [--rcpts N] [--reuse]}
 */
public final class LatencyProbe {
    private final String host;
    private final int port;
    private final double rate;
    private final int total;
    private final int warmupCount;
    private final int sessions;
    private final byte[] body;
    private final int rcpts;
    private final boolean reuse;

    private final AtomicLong next = new AtomicLong();
    private final long[] latencies;
    private final LongAdder sent = new LongAdder();
    private final LongAdder ok = new LongAdder();
    private final AtomicLong maxSlipNanos = new AtomicLong();
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private long startNanos;

    LatencyProbe(String host, int port, double rate, double seconds, double warmup, int sessions, int size,
                 int rcpts, boolean reuse) {
        if (rate <= 0 || seconds <= 0 || sessions < 1 || rcpts < 1 || size < 0) {
            throw new IllegalArgumentException("rate, seconds, sessions and rcpts must be positive");
        }
        this.host = host;
        this.port = port;
        this.rate = rate;
        this.warmupCount = (int) Math.round(rate * warmup);
        this.total = warmupCount + (int) Math.max(1, Math.round(rate * seconds));
        this.sessions = sessions;
        this.body = message(size);
        this.rcpts = rcpts;
        this.reuse = reuse;
        this.latencies = new long[total];
        Arrays.fill(latencies, -1);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new TreeMap<>();
        for (int i = 0; i < args.length; i++) {
            String k = args[i];
            if (!k.startsWith("--")) {
                usage("unexpected argument " + k);
            }
            if (k.equals("--reuse")) {
                a.put("reuse", "true");
            } else if (i + 1 < args.length) {
                a.put(k.substring(2), args[++i]);
            } else {
                usage(k + " needs a value");
            }
        }
        if (!a.containsKey("port") || !a.containsKey("rate") || !a.containsKey("seconds")) {
            usage("--port, --rate and --seconds are required");
        }
        LatencyProbe probe = new LatencyProbe(a.getOrDefault("host", "127.0.0.1"), Integer.parseInt(a.get("port")),
                Double.parseDouble(a.get("rate")), Double.parseDouble(a.get("seconds")),
                Double.parseDouble(a.getOrDefault("warmup", "2")), Integer.parseInt(a.getOrDefault("sessions", "20")),
                Integer.parseInt(a.getOrDefault("size", "4096")), Integer.parseInt(a.getOrDefault("rcpts", "1")),
                a.containsKey("reuse"));
        System.out.println(probe.run());
    }

    private static void usage(String problem) {
        System.err.println("LatencyProbe: " + problem + "; usage: --port P [--host H] --rate MSGS_PER_S --seconds S"
                + " [--warmup S] [--sessions N] [--size BYTES] [--rcpts N] [--reuse]");
        System.exit(2);
    }

    /** Runs the whole schedule and returns the JSON summary. */
    String run() throws InterruptedException {
        startNanos = System.nanoTime() + 50_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int s = 0; s < sessions; s++) {
            Thread t = new Thread(this::session, "probe-" + s);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        return summary(elapsed);
    }

    private void session() {
        Connection c = null;
        try {
            while (true) {
                long i = next.getAndIncrement();
                if (i >= total) {
                    break;
                }
                long due = startNanos + (long) (i * 1e9 / rate);
                long now;
                while ((now = System.nanoTime()) < due) {
                    LockSupport.parkNanos(due - now);
                }
                maxSlipNanos.accumulateAndGet(now - due, Math::max);
                sent.increment();
                try {
                    if (c == null) {
                        c = Connection.open(host, port);
                    }
                    long latency = c.transaction(rcpts, (int) i, body);
                    ok.increment();
                    if (i >= warmupCount) {
                        latencies[(int) i] = latency;
                    }
                    if (!reuse) {
                        c.quit();
                        c = null;
                    }
                } catch (ReplyException e) {
                    error(e.getMessage());
                    c = closeQuietly(c);
                } catch (IOException e) {
                    error("io: " + e.getClass().getSimpleName());
                    c = closeQuietly(c);
                }
            }
        } finally {
            if (c != null) {
                try {
                    c.quit();
                } catch (IOException | ReplyException e) {
                    closeQuietly(c);
                }
            }
        }
    }

    private void error(String what) {
        errors.computeIfAbsent(what, k -> new LongAdder()).increment();
    }

    private static Connection closeQuietly(Connection c) {
        if (c != null) {
            c.close();
        }
        return null;
    }

    private String summary(double elapsed) {
        long[] rec = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
        StringBuilder err = new StringBuilder("{");
        new TreeMap<>(errors).forEach((k, v) -> {
            if (err.length() > 1) {
                err.append(',');
            }
            err.append('"').append(k.replace("\\", "\\\\").replace("\"", "'")).append("\":").append(v.sum());
        });
        err.append('}');
        return String.format(Locale.ROOT,
                "{\"rate\":%.1f,\"sent\":%d,\"ok\":%d,\"recorded\":%d,\"seconds\":%.2f,\"achieved_rate\":%.1f,"
                        + "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"max_slip_ms\":%.1f,"
                        + "\"errors\":%s}",
                rate, sent.sum(), ok.sum(), rec.length, elapsed, sent.sum() / elapsed, millis(percentile(rec, 0.50)),
                millis(percentile(rec, 0.90)), millis(percentile(rec, 0.99)),
                millis(rec.length == 0 ? -1 : rec[rec.length - 1]), maxSlipNanos.get() / 1e6, err);
    }

    /** Nearest-rank percentile of sorted values; -1 when there are none. */
    static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return -1;
        }
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static double millis(long nanos) {
        return nanos < 0 ? -1 : nanos / 1e6;
    }

    /** Headers and a body of {@code size} bytes in lines of at most 78 characters (none starts with a dot). */
    static byte[] message(int size) {
        StringBuilder m = new StringBuilder();
        m.append("From: <probe@bench.test>\r\nTo: <rcpt@example.com>\r\nSubject: latency probe\r\n")
                .append("Message-ID: <probe@bench.test>\r\n\r\n");
        int left = size;
        while (left > 0) {
            int n = Math.min(76, Math.max(1, left - 2));
            m.append("x".repeat(n)).append("\r\n");
            left -= n + 2;
        }
        return m.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** A reply that is not the expected one: its code and first words name the error. */
    static final class ReplyException extends Exception {
        ReplyException(String stage, String reply) {
            super(stage + " " + (reply.length() > 3 ? reply.substring(0, 3) : reply));
        }
    }

    /** One SMTP client connection, greeted and EHLO'd. */
    static final class Connection {
        private static final byte[] END = ".\r\n".getBytes(StandardCharsets.US_ASCII);
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private final StringBuilder line = new StringBuilder();

        private Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), 8192);
            this.out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
        }

        static Connection open(String host, int port) throws IOException, ReplyException {
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(host, port), 10_000);
            s.setSoTimeout(60_000);
            Connection c = new Connection(s);
            try {
                c.expect("greeting", '2');
                c.command("EHLO probe.bench.test", "ehlo", '2');
            } catch (IOException | ReplyException e) {
                c.close();
                throw e;
            }
            return c;
        }

        /** One transaction; returns nanoseconds from writing the end-of-DATA marker to the 250. */
        long transaction(int rcpts, int seq, byte[] body) throws IOException, ReplyException {
            command("MAIL FROM:<probe@bench.test>", "mail", '2');
            for (int r = 0; r < rcpts; r++) {
                command("RCPT TO:<r" + seq + "-" + r + "@example.com>", "rcpt", '2');
            }
            command("DATA", "data", '3');
            out.write(body);
            out.flush();
            long t0 = System.nanoTime();
            out.write(END);
            out.flush();
            String reply = reply();
            long t1 = System.nanoTime();
            if (reply.charAt(0) != '2') {
                throw new ReplyException("end-of-data", reply);
            }
            return t1 - t0;
        }

        void quit() throws IOException, ReplyException {
            try {
                command("QUIT", "quit", '2');
            } finally {
                close();
            }
        }

        void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // closing anyway
            }
        }

        private void command(String text, String stage, char expected) throws IOException, ReplyException {
            out.write((text + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            expect(stage, expected);
        }

        private void expect(String stage, char expected) throws IOException, ReplyException {
            String reply = reply();
            if (reply.charAt(0) != expected) {
                throw new ReplyException(stage, reply);
            }
        }

        /** The last line of a (possibly multi-line) reply. */
        private String reply() throws IOException {
            while (true) {
                String l = readLine();
                if (l.length() < 4 || l.charAt(3) != '-') {
                    if (l.isEmpty()) {
                        throw new IOException("empty reply line");
                    }
                    return l;
                }
            }
        }

        private String readLine() throws IOException {
            line.setLength(0);
            int b;
            while ((b = in.read()) >= 0) {
                if (b == '\n') {
                    int n = line.length();
                    if (n > 0 && line.charAt(n - 1) == '\r') {
                        line.setLength(n - 1);
                    }
                    return line.toString();
                }
                line.append((char) b);
            }
            throw new IOException("connection closed by the server");
        }
    }
}
