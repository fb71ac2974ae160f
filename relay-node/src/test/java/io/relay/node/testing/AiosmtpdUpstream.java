package io.relay.node.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A scriptable upstream: upstream/aiosmtpd_upstream.py under /usr/bin/python3, on
 * 127.0.0.1:{@link #port()} (or another loopback address and port, {@link Builder#listen}). Build one with {@link #builder(Path)}, choose the modes
 * (STARTTLS required, AUTH required, 451-then-accept, 550 for some recipients, 454 throttling), start it,
 * and read back what it received with {@link #messages()} and {@link #connections()}.
 */
public final class AiosmtpdUpstream implements AutoCloseable {
    /** One message as the upstream received it (content after dot-unstuffing). */
    public record Received(String sender, List<String> recipients, List<String> mailOptions, byte[] content,
                           boolean tls, String authUser, String sha256, long size,
                           String bodySha256) {
        public String text() {
            return new String(content, StandardCharsets.UTF_8);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Process process;
    private final int port;
    private final Path recordFile;

    private AiosmtpdUpstream(Process process, int port, Path recordFile) {
        this.process = process;
        this.port = port;
        this.recordFile = recordFile;
    }

    public static Builder builder(Path workDir) {
        return new Builder(workDir);
    }

    public int port() {
        return port;
    }

    public List<Received> messages() throws IOException {
        List<Received> out = new ArrayList<>();
        for (JsonNode n : events("message")) {
            List<String> rcpts = new ArrayList<>();
            n.get("rcpt_tos").forEach(r -> rcpts.add(r.asText()));
            List<String> opts = new ArrayList<>();
            n.get("mail_options").forEach(r -> opts.add(r.asText()));
            JsonNode auth = n.get("auth");
            out.add(new Received(n.get("mail_from").asText(), rcpts, opts,
                    Base64.getDecoder().decode(n.get("content_b64").asText()), n.get("tls").asBoolean(),
                    auth == null || auth.isNull() ? null : auth.asText(), n.path("sha256").asText(""),
                    n.path("size").asLong(-1), n.path("body_sha256").asText("")));
        }
        return out;
    }

    /** Waits until {@code n} messages have arrived or {@code timeout} has passed; returns what arrived (the caller checks the count). */
    public List<Received> awaitMessages(int n, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (readable().size() < n && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        return messages();
    }

    /** Waits for the first message {@code which} accepts; empty when none arrived within {@code timeout}. */
    public Optional<Received> awaitMessage(Predicate<Received> which, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<Received> found = readable().stream().filter(which).findFirst();
            if (found.isPresent() || System.nanoTime() > deadline) {
                return found;
            }
            Thread.sleep(100);
        }
    }

    /** {@link #messages()}, or none while the upstream is half-way through writing a record. */
    private List<Received> readable() {
        try {
            return messages();
        } catch (IOException partial) {
            return List.of();
        }
    }

    /** When each message arrived (end of DATA), epoch milliseconds with sub-ms precision, in arrival order. */
    public List<Double> arrivalMillis() throws IOException {
        List<Double> out = new ArrayList<>();
        for (JsonNode n : events("message")) {
            out.add(n.get("at").asDouble() * 1000.0);
        }
        return out;
    }

    /** MAIL FROM commands answered with 454 throttling ({@link Builder#throttleFirst}). */
    public int throttledTransactions() throws IOException {
        return events("throttled").size();
    }

    /** TCP connections that got as far as EHLO/HELO. */
    public int connections() throws IOException {
        return events("connect").size();
    }

    private List<JsonNode> events(String kind) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(recordFile)) {
            return out;
        }
        for (String line : Files.readAllLines(recordFile)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n = JSON.readTree(line);
            if (kind.equals(n.get("event").asText())) {
                out.add(n);
            }
        }
        return out;
    }

    @Override
    public void close() {
        UpstreamProcess.kill(process);
    }

    public static final class Builder {
        private final Path workDir;
        private final List<String> args = new ArrayList<>();
        private String host = "127.0.0.1";
        private int fixedPort;

        private Builder(Path workDir) {
            this.workDir = workDir;
        }

        /** STARTTLS required, with this PEM certificate chain and key. */
        public Builder starttls(Path certPem, Path keyPem) {
            args.addAll(List.of("--tls-cert", certPem.toString(), "--tls-key", keyPem.toString()));
            return this;
        }

        /** STARTTLS offered but not required. */
        public Builder starttlsOptional() {
            args.add("--tls-optional");
            return this;
        }

        /** Caps the upstream at TLS 1.1, so a TLS 1.2+ client's handshake fails. */
        public Builder tlsAtMost11() {
            args.add("--tls-max-1-1");
            return this;
        }

        /** AUTH (PLAIN or LOGIN) required, with this one account. */
        public Builder auth(String user, String password) {
            args.addAll(List.of("--auth", user + ":" + password));
            return this;
        }

        /** Stops offering one AUTH mechanism (e.g. "PLAIN", to make the client use LOGIN). */
        public Builder withoutAuthMechanism(String mechanism) {
            args.addAll(List.of("--auth-exclude", mechanism));
            return this;
        }

        /** The first {@code n} RCPTs of each recipient get 451 4.3.0, later ones 250. */
        public Builder tempfailFirst(int n) {
            args.addAll(List.of("--tempfail", Integer.toString(n)));
            return this;
        }

        /**
         * The first {@code n} MAIL FROM commands (over all connections) get SES's
         * {@code 454 4.7.0 Throttling failure: Maximum sending rate exceeded.}; later ones 250.
         */
        public Builder throttleFirst(int n) {
            args.addAll(List.of("--throttle", Integer.toString(n)));
            return this;
        }

        /** Every RCPT gets 451 4.3.0 while {@code file} exists: an upstream "down" that still holds its port. */
        public Builder holdWhileExists(Path file) {
            args.addAll(List.of("--hold-file", file.toString()));
            return this;
        }

        /** Keeps only each message's SHA-256 and size, not its content (for messages of tens of MB). */
        public Builder digestsOnly() {
            args.add("--digest-only");
            return this;
        }

        /** Takes messages up to this many bytes (aiosmtpd's own default is 32 MiB). */
        public Builder dataSizeLimit(long bytes) {
            args.addAll(List.of("--data-size-limit", Long.toString(bytes)));
            return this;
        }

        /** Recipients matching the Python regex get 550 5.1.1. */
        public Builder reject(String regex) {
            args.addAll(List.of("--reject", regex));
            return this;
        }

        /**
         * Listens on this address and port instead of 127.0.0.1 and a free port: e.g.
         * 127.0.0.3:25, where a DNS test record sends direct MX delivery (binding 25 needs root).
         */
        public Builder listen(String host, int port) {
            this.host = host;
            this.fixedPort = port;
            return this;
        }

        public AiosmtpdUpstream start() throws IOException {
            Tools.requirePythonModule("aiosmtpd");
            Path script = workDir.resolve("aiosmtpd_upstream.py");
            try (InputStream in = AiosmtpdUpstream.class.getResourceAsStream("/upstream/aiosmtpd_upstream.py")) {
                Files.write(script, in.readAllBytes());
            }
            int port = fixedPort > 0 ? fixedPort : UpstreamProcess.freePort();
            String name = ("127.0.0.1".equals(host) ? "" : host + "-") + port;
            Path record = workDir.resolve("upstream-" + name + ".jsonl");
            List<String> cmd = new ArrayList<>(List.of(Tools.PYTHON3, script.toString(), "--host", host, "--port",
                    Integer.toString(port), "--record", record.toString()));
            cmd.addAll(args);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(workDir.resolve("upstream-" + name + ".out").toFile()).start();
            try {
                UpstreamProcess.awaitListening(p, host, port, Duration.ofSeconds(15));
            } catch (IOException e) {
                UpstreamProcess.kill(p);
                throw e;
            }
            return new AiosmtpdUpstream(p, port, record);
        }
    }
}
