package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16, item 9 (memory): a client outside mynetworks sending to a relay domain opens 32
 * sessions and streams 9 MB of DATA in each without the final dot, against a node with a
 * 256 MB heap and no memory setting (the receive budget defaults to a quarter of the heap).
 * The node stays up, mail from mynetworks during and after the attack is answered 250 and
 * delivered once each.
 *
 * <p>Before issue 17 the attack's messages beyond the budget got 452 4.3.1. Since streaming
 * DATA (issue 17, item 2) a message's content beyond 256 KiB goes to the spool as it arrives,
 * so each of these sessions holds at most 256 KiB of heap, the budget is never reached, and
 * every attack message is taken (the disk has room) and delivered once. The budget's own
 * 452 is covered where contents stay in the heap (SmtpFramerTest).
 */
class FirstHourDataMemoryTest {
    private static final int ATTACKERS = 32;
    private static final int ATTACK_BYTES = 9 * 1024 * 1024;
    private static final int LEGIT_DURING = 10;
    private static final int LEGIT_AFTER = 10;
    private static final Duration BOUND = Duration.ofSeconds(180);
    private static final Pattern TAG = Pattern.compile("X-Tag: (\\S+)");

    @Test
    void parallelLargeDataWithoutTheFinalDotCannotExhaustTheHeap(@TempDir Path dir) throws Exception {
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir).start()) {
            int smtp = Ports.free();
            Path nodeDir = dir.resolve("node");
            String yaml = NodeYaml.in(nodeDir, smtp).with("""
                    smtpd:
                      mynetworks: [127.0.0.1/32]
                      relay-domains: [example.org]
                    smtp:
                      relayhost: "[127.0.0.1]:%d"
                      default-transport: smtp
                    """.formatted(upstream.port()));
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp, List.of("-Xmx256m"))) {
                ExecutorService pool = Executors.newFixedThreadPool(ATTACKERS);
                CountDownLatch streamed = new CountDownLatch(ATTACKERS);
                CountDownLatch finish = new CountDownLatch(1);
                List<Future<String>> attacks = new ArrayList<>();
                for (int i = 0; i < ATTACKERS; i++) {
                    int n = i;
                    attacks.add(pool.submit(() -> attack(smtp, n, streamed, finish)));
                }
                try {
                    assertTrue(streamed.await(BOUND.toSeconds(), TimeUnit.SECONDS), "attackers streamed their DATA");

                    // during the attack: mail from mynetworks is taken
                    Map<String, Integer> answered = new HashMap<>();
                    for (int i = 0; i < LEGIT_DURING; i++) {
                        answered.merge(legit(smtp, "during-" + i), 1, Integer::sum);
                    }
                    assertTrue(node.alive(), "node alive during the attack");
                    assertEquals(Map.of("250", LEGIT_DURING), answered, "mail from mynetworks during the attack");
                } finally {
                    finish.countDown();
                }
                Map<String, Integer> attackReplies = new HashMap<>();
                for (Future<String> f : attacks) {
                    attackReplies.merge(f.get(BOUND.toSeconds(), TimeUnit.SECONDS), 1, Integer::sum);
                }
                pool.shutdown();
                System.out.println("attack replies: " + attackReplies);
                int attack250 = attackReplies.getOrDefault("250", 0);
                int attack452 = attackReplies.getOrDefault("452", 0) + attackReplies.getOrDefault("452@DATA", 0);
                assertEquals(ATTACKERS, attack250 + attack452, "each attack session got 250 or 452: " + attackReplies);
                assertEquals(ATTACKERS, attack250, "streamed to disk, every message was taken: " + attackReplies);

                Map<String, Integer> after = new HashMap<>();
                for (int i = 0; i < LEGIT_AFTER; i++) {
                    after.merge(legit(smtp, "after-" + i), 1, Integer::sum);
                }
                assertEquals(Map.of("250", LEGIT_AFTER), after, "mail after the attack");
                assertTrue(node.alive(), "node alive after the attack");

                // every message answered 250 is delivered once; nothing else
                int expected = LEGIT_DURING + LEGIT_AFTER + attack250;
                FirstHourDataTest.awaitMessages(upstream, expected);
                Thread.sleep(1000);
                Map<String, Integer> delivered = new HashMap<>();
                for (AiosmtpdUpstream.Received r : upstream.messages()) {
                    Matcher m = TAG.matcher(r.text().substring(0, Math.min(4096, r.text().length())));
                    delivered.merge(m.find() ? m.group(1) : "untagged", 1, Integer::sum);
                }
                int attackDelivered = 0;
                for (int i = 0; i < LEGIT_DURING; i++) {
                    assertEquals(1, delivered.getOrDefault("during-" + i, 0), "during-" + i + " delivered once");
                }
                for (int i = 0; i < LEGIT_AFTER; i++) {
                    assertEquals(1, delivered.getOrDefault("after-" + i, 0), "after-" + i + " delivered once");
                }
                for (Map.Entry<String, Integer> e : delivered.entrySet()) {
                    if (e.getKey().startsWith("attack-")) {
                        assertEquals(1, e.getValue(), e.getKey() + " delivered once");
                        attackDelivered++;
                    }
                }
                assertEquals(attack250, attackDelivered, "attack messages answered 250 are delivered");
                assertEquals(expected, upstream.messages().size(), "no duplicates, nothing lost: " + delivered);

                assertTrue(!node.stderr().contains("OutOfMemoryError"), NodeProcess.tail(nodeDir.resolve("node.err"), 30));
            }
        }
    }

    /**
     * One attack session from 127.0.0.2 (outside mynetworks) to the relay domain: streams
     * 9 MB without the final dot, waits for {@code finish}, then ends the message; returns
     * "250", "452", or "452@DATA" when refused before any content.
     */
    private static String attack(int port, int n, CountDownLatch streamed, CountDownLatch finish) throws Exception {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout((int) BOUND.toMillis());
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            try {
                expect(in, "220");
                command(in, out, "EHLO attacker.test", "250");
                command(in, out, "MAIL FROM:<x@attacker.test>", "250");
                command(in, out, "RCPT TO:<victim@example.org>", "250");
                out.write("DATA\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String data = reply(in);
                if (data.startsWith("452")) {
                    return "452@DATA";
                }
                assertTrue(data.startsWith("354"), data);
                out.write(("X-Tag: attack-" + n + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                byte[] line = ("y".repeat(1022) + "\r\n").getBytes(StandardCharsets.US_ASCII);
                byte[] chunk = new byte[64 * line.length];
                for (int k = 0; k < 64; k++) {
                    System.arraycopy(line, 0, chunk, k * line.length, line.length);
                }
                for (int sent = 0; sent < ATTACK_BYTES; sent += chunk.length) {
                    out.write(chunk);
                }
                out.flush();
            } finally {
                streamed.countDown();
            }
            assertTrue(finish.await(BOUND.toSeconds(), TimeUnit.SECONDS));
            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return reply(in).substring(0, 3);
        }
    }

    /** One message from 127.0.0.1 (mynetworks); returns the code of the reply to its final dot. */
    private static String legit(int port, String tag) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(60_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            expect(in, "220");
            command(in, out, "EHLO app.test", "250");
            command(in, out, "MAIL FROM:<app@app.test>", "250");
            command(in, out, "RCPT TO:<user@example.com>", "250");
            command(in, out, "DATA", "354");
            out.write(("X-Tag: " + tag + "\r\nSubject: " + tag + "\r\n\r\n" + "body\r\n".repeat(300) + ".\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String code = reply(in).substring(0, 3);
            command(in, out, "QUIT", "221");
            return code;
        }
    }

    private static void command(InputStream in, OutputStream out, String line, String code) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        expect(in, code);
    }

    private static void expect(InputStream in, String code) throws IOException {
        String r = reply(in);
        if (!r.startsWith(code)) {
            throw new AssertionError("expected " + code + ", got " + r);
        }
    }

    private static String reply(InputStream in) throws IOException {
        while (true) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0 && b != '\n') {
                line.write(b);
            }
            String text = line.toString(StandardCharsets.US_ASCII).stripTrailing();
            if (b < 0) {
                return text.isEmpty() ? "EOF" : text;
            }
            if (text.length() < 4 || text.charAt(3) != '-') {
                return text;
            }
        }
    }
}
