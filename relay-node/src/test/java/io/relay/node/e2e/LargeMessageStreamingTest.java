package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17, item 2 (streaming DATA): SES's 40 MB limit as {@code smtpd.message-size-limit}
 * on two nodes with a 512 MB heap each, and 20 web-app sessions sending a 40 MB message each
 * to one node at once, while the upstream answers 451. Every message is answered 250 (they
 * stream to disk as they arrive: 20 × 40 MB would not fit the heap), its content is a file
 * on the accepting node and a copy of it a file on the other (sent in parts). The accepting
 * node is then killed (-9); the upstream takes mail again and the survivor delivers all 20 from its
 * copies, each body byte for byte (SHA-256 at the upstream, dot-stuffed lines included).
 * The killed node, started again, finds its messages finished and removes their files.
 */
class LargeMessageStreamingTest {
    private static final int SESSIONS = 20;
    private static final int BODY_BYTES = 40_000_000;
    private static final long SIZE_LIMIT = 40L * 1024 * 1024;
    private static final Duration BOUND = Duration.ofMinutes(4);

    @Test
    void twentyConcurrentFortyMegabyteMessagesOnAFiveHundredMegabyteHeap(@TempDir Path dir) throws Exception {
        // The upstream listens from the start but answers 451 while the hold file exists: a port
        // only reserved until the kill could be taken meanwhile by another program's server.
        Path hold = Files.writeString(dir.resolve("upstream.hold"), "down");
        int smtpA = Ports.free();
        int smtpB = Ports.free();
        NodeYaml a = NodeYaml.in(dir.resolve("a"), smtpA);
        NodeYaml b = NodeYaml.in(dir.resolve("b"), smtpB);
        String members = "\"127.0.0.1:" + a.cluster() + "\", \"127.0.0.1:" + b.cluster() + "\"";
        List<String> jvm = List.of("-Xmx512m", "-XX:+ExitOnOutOfMemoryError");
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir).holdWhileExists(hold).digestsOnly()
                .dataSizeLimit(64L << 20).start();
             NodeProcess nodeA = NodeProcess.start(a.dir(), a.with(config(upstream.port(), members)), smtpA, jvm);
             NodeProcess nodeB = NodeProcess.start(b.dir(), b.with(config(upstream.port(), members)), smtpB, jvm)) {
            NodeProcess.awaitMembers(List.of(nodeA, nodeB), 2, Duration.ofSeconds(60));

            ExecutorService pool = Executors.newFixedThreadPool(SESSIONS);
            List<Future<String>> sessions = new ArrayList<>();
            for (int i = 0; i < SESSIONS; i++) {
                int n = i;
                sessions.add(pool.submit(() -> send(smtpA, n)));
            }
            Map<String, String> digests = new HashMap<>(); // sender -> body SHA-256, for each 250
            List<String> replies = new ArrayList<>();
            for (Future<String> f : sessions) {
                String r = f.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                replies.add(r);
                if (r.startsWith("250 ")) {
                    String[] parts = r.split(" ", 3)[2].split(";");
                    digests.put(parts[0], parts[1]);
                }
            }
            pool.shutdown();
            assertEquals(SESSIONS, digests.size(), "every session answered 250: " + replies);
            assertTrue(nodeA.alive() && nodeB.alive(), "both nodes alive after the burst");

            // the bodies are files, on the accepting node and (the copies) on the other
            assertEquals(SESSIONS, bodyFiles(a.dir().resolve("spool/bodies")).size(), "files on the accepting node");
            for (Path f : bodyFiles(a.dir().resolve("spool/bodies"))) {
                assertTrue(Files.size(f) > BODY_BYTES - 100, f + ": " + Files.size(f) + " bytes");
            }
            assertEquals(SESSIONS, bodyFiles(b.dir().resolve("spool/copies/bodies")).size(), "copies on the other");

            nodeA.kill9();
            Files.delete(hold); // the upstream comes back
            {
                List<AiosmtpdUpstream.Received> got = upstream.awaitMessages(SESSIONS, BOUND);
                Thread.sleep(2000); // a duplicate would arrive now
                got = upstream.messages();
                Map<String, Integer> delivered = new HashMap<>();
                int intact = 0;
                for (AiosmtpdUpstream.Received r : got) {
                    delivered.merge(r.sender(), 1, Integer::sum);
                    if (r.bodySha256().equals(digests.get(r.sender()))) {
                        intact++;
                    }
                }
                long lost = digests.keySet().stream().filter(s -> !delivered.containsKey(s)).count();
                long duplicates = delivered.values().stream().filter(c -> c > 1).mapToLong(c -> c - 1).sum();
                System.out.printf("large messages: sent %d / 250 %d / delivered %d / intact %d / lost %d / "
                        + "duplicates %d%n", SESSIONS, digests.size(), delivered.size(), intact, lost, duplicates);
                assertEquals(0, lost, "lost: " + delivered);
                assertEquals(0, duplicates, "duplicates: " + delivered);
                assertEquals(SESSIONS, intact, "bodies byte for byte");
                assertTrue(nodeB.alive(), "survivor alive");

                // the survivor let its copies go once they were delivered
                awaitEmpty(b.dir().resolve("spool/copies/bodies"));
                // the killed node, back, finds them finished and removes its files
                nodeA.restart();
                awaitEmpty(a.dir().resolve("spool/bodies"));
                assertEquals(SESSIONS, upstream.messages().size(), "nothing delivered again after the restart");
            }
            for (NodeProcess n : List.of(nodeA, nodeB)) {
                assertFalse(n.stderr().contains("OutOfMemoryError"), NodeProcess.tail(n.dir().resolve("node.err"), 30));
            }
        }
    }

    private static String config(int upstreamPort, String members) {
        return """
                smtpd:
                  mynetworks: [127.0.0.0/8]
                  message-size-limit: %d
                smtp:
                  relayhost: "[127.0.0.1]:%d"
                queue:
                  minimal-backoff-time: 2s
                  maximal-backoff-time: 4s
                cluster:
                  members: [%s]
                """.formatted(SIZE_LIMIT, upstreamPort, members);
    }

    /**
     * One web-app session: a 40 MB message whose lines include some that start with a dot
     * (sent stuffed). Answers "250 SENDER;BODY-SHA256" or the reply it got.
     */
    private static String send(int port, int n) throws Exception {
        String sender = "big" + n + "@app.test";
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout((int) BOUND.toMillis());
            InputStream in = s.getInputStream();
            OutputStream out = new BufferedOutputStream(s.getOutputStream(), 256 * 1024);
            expect(in, "220");
            command(in, out, "EHLO app.test", "250");
            command(in, out, "MAIL FROM:<" + sender + "> SIZE=" + (BODY_BYTES + 200), "250");
            command(in, out, "RCPT TO:<user@example.com>", "250");
            command(in, out, "DATA", "354");
            out.write(("From: <" + sender + ">\r\nSubject: large " + n + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] plain = (n + " " + "x".repeat(74)).substring(0, 76).concat("\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] dotted = ("." + "y".repeat(75) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] stuffed = ("." + new String(dotted, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII);
            int lines = BODY_BYTES / plain.length;
            for (int k = 0; k < lines; k++) {
                if (k % 100 == 7) {
                    sha.update(dotted);
                    out.write(stuffed);
                } else {
                    sha.update(plain);
                    out.write(plain);
                }
            }
            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String reply = reply(in);
            command(in, out, "QUIT", "221");
            return reply.startsWith("250") ? "250 ok " + sender + ";" + HexFormat.of().formatHex(sha.digest()) : reply;
        }
    }

    private static List<Path> bodyFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    private static void awaitEmpty(Path dir) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!bodyFiles(dir).isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(dir + " still holds " + bodyFiles(dir).size() + " body files");
            }
            Thread.sleep(250);
        }
    }

    private static void command(InputStream in, OutputStream out, String line, String code) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String r = reply(in);
        assertTrue(r.startsWith(code), line + " -> " + r);
    }

    private static void expect(InputStream in, String code) throws IOException {
        String r = reply(in);
        assertTrue(r.startsWith(code), r);
    }

    /** The last line of a reply, without its CRLF. */
    private static String reply(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed after: " + line);
            }
            if (c == '\n') {
                String l = line.toString().strip();
                if (l.length() >= 4 && l.charAt(3) == '-') {
                    line.setLength(0);
                    continue;
                }
                return l;
            }
            line.append((char) c);
        }
    }
}
