package io.relay.node.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixture against real peers: swaks submits to the private Postfix, which relays to
 * smtp-sink standing in for our node; its maillog, its queue and the process table say
 * what happened.
 */
class PostfixInstanceTest {
    private static final Duration STEP = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private final List<Process> children = new ArrayList<>();

    @BeforeEach
    void tools() {
        Tools.require(Tools.POSTFIX, Tools.SWAKS, Tools.SMTP_SINK);
    }

    @AfterEach
    void killChildren() {
        children.forEach(Process::destroyForcibly);
    }

    @Test
    void relaysEveryMessageToTheRelayhostAndLeavesNoProcessBehind() throws Exception {
        int sinkPort = freePort();
        startSink(sinkPort);
        Path config;
        List<Long> pids;
        try (Socket idleClient = new Socket();
                PostfixInstance postfix = PostfixInstance.start(dir.resolve("postfix"), sinkPort)) {
            config = postfix.configDir();
            for (int i = 1; i <= 20; i++) {
                swaks(postfix.smtpPort(), "user" + i + "@example.com");
            }
            postfix.awaitSent(20, STEP);
            assertEquals(20, postfix.sentCount());
            List<String> sent = postfix.maillogLines().stream().filter(l -> l.contains(" status=sent ")).toList();
            assertTrue(sent.stream().allMatch(l -> l.contains("relay=127.0.0.1[127.0.0.1]:" + sinkPort + ",")),
                    "every message went to the relayhost: " + sent);
            for (int i = 1; i <= 20; i++) {
                String to = "to=<user" + i + "@example.com>";
                assertEquals(1, sent.stream().filter(l -> l.contains(to)).count(), to);
            }
            assertEquals(0, postfix.queueCount());

            // A client in mid-session: its smtpd reads with smtpd_timeout (300s) and would not
            // notice a master that went away; close() must stop it all the same.
            idleClient.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), postfix.smtpPort()), 2000);
            idleClient.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(idleClient.getInputStream(), StandardCharsets.US_ASCII));
            assertTrue(in.readLine().startsWith("220"));
            idleClient.getOutputStream().write("EHLO idle.test\r\n".getBytes(StandardCharsets.US_ASCII));
            String line;
            do {
                line = in.readLine();
            } while (line != null && !line.startsWith("250 "));
            assertTrue(line != null, "EHLO answered");

            pids = postfix.processIds();
            // the master, qmgr, postlogd and the smtpd/cleanup/smtp that just worked
            assertTrue(pids.size() >= 4, "instance processes found: " + pids);
        }
        List<Long> alive = pids.stream().filter(PostfixInstanceTest::running).toList();
        assertEquals(List.of(), alive, "processes of the instance still running after close()");
        assertEquals(1, exitCode(List.of("/usr/bin/pgrep", "-f", config.toString())),
                "pgrep -f " + config + " finds a process after close()");
    }

    @Test
    void keepsMailQueuedWhileTheRelayhostIsDownAndDeliversItWhenItComesUp() throws Exception {
        int sinkPort = freePort();
        try (PostfixInstance postfix = PostfixInstance.start(dir.resolve("postfix"), sinkPort)) {
            for (int i = 1; i <= 3; i++) {
                swaks(postfix.smtpPort(), "later" + i + "@example.com");
            }
            awaitQueue(postfix, 3);
            assertEquals(0, postfix.sentCount());
            assertTrue(postfix.maillogLines().stream().anyMatch(l -> l.contains(" status=deferred ")),
                    "a deferred line in the maillog");

            startSink(sinkPort);
            postfix.flushQueue();
            postfix.awaitSent(3, STEP);
            awaitQueue(postfix, 0);
        }
    }

    @Test
    void speaksStartTlsToTheRelayhostWhenTlsLevelMayIsGiven() throws Exception {
        Tools.require(Tools.OPENSSL);
        Tools.requirePythonModule("aiosmtpd");
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        assertEquals(0, exitCode(List.of(Tools.OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "1", "-subj", "/CN=localhost")));
        int sinkPort = freePort();
        startStartTlsSink(sinkPort, cert, key);
        try (PostfixInstance postfix = PostfixInstance.start(dir.resolve("postfix"), sinkPort,
                Map.of("smtp_tls_security_level", "may"))) {
            swaks(postfix.smtpPort(), "secure@example.com");
            // the sink refuses MAIL before STARTTLS: a plain-text Postfix would bounce this
            postfix.awaitSent(1, STEP);
            assertTrue(postfix.maillogLines().stream()
                            .anyMatch(l -> l.contains("TLS connection established to 127.0.0.1[127.0.0.1]:" + sinkPort)),
                    "a TLS session in the maillog");
            assertTrue(postfix.maillogLines().stream().noneMatch(l -> l.contains("overriding earlier entry")),
                    "the override replaces the template's line instead of repeating the name");
        }
    }

    private void startStartTlsSink(int port, Path cert, Path key) throws Exception {
        Path script = dir.resolve("starttls_sink.py");
        try (InputStream in = getClass().getResourceAsStream("/postfix/starttls_sink.py")) {
            Files.copy(in, script);
        }
        Path out = dir.resolve("starttls-sink.out");
        Process sink = new ProcessBuilder(Tools.PYTHON3, script.toString(), Integer.toString(port), cert.toString(),
                key.toString()).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        children.add(sink);
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!Files.readString(out).contains("ready")) {
            if (!sink.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("the STARTTLS sink did not start: " + Files.readString(out));
            }
            Thread.sleep(50);
        }
    }

    private static void awaitQueue(PostfixInstance postfix, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + STEP.toNanos();
        int count;
        while ((count = postfix.queueCount()) != expected) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("queue holds " + count + ", expected " + expected + "; maillog: "
                        + postfix.maillogLines());
            }
            Thread.sleep(100);
        }
    }

    private void startSink(int port) throws Exception {
        Process sink = new ProcessBuilder(Tools.SMTP_SINK, "-u", "nobody", "127.0.0.1:" + port, "100")
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("smtp-sink-" + port + ".out").toFile())
                .start();
        children.add(sink);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
                return;
            } catch (IOException notYet) {
                if (!sink.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("smtp-sink did not listen on port " + port + ": "
                            + Files.readString(dir.resolve("smtp-sink-" + port + ".out")));
                }
                Thread.sleep(50);
            }
        }
    }

    private void swaks(int port, String to) throws Exception {
        List<String> command = List.of(Tools.SWAKS, "--server", "127.0.0.1:" + port, "--timeout", "10",
                "--from", "app@web.test", "--to", to, "--header", "Subject: fixture self-test", "--silent", "2");
        Path out = Files.createTempFile(dir, "swaks", ".out");
        assertEquals(0, exitCode(command, out), "swaks to " + to + ": " + Files.readString(out));
    }

    private int exitCode(List<String> command) throws Exception {
        return exitCode(command, Files.createTempFile(dir, "cmd", ".out"));
    }

    private int exitCode(List<String> command, Path out) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        children.add(p);
        if (!p.waitFor(STEP.toSeconds(), TimeUnit.SECONDS)) {
            throw new AssertionError(command + " did not finish within " + STEP);
        }
        return p.exitValue();
    }

    /**
     * Whether the process still runs. A daemon killed with its master is reparented to PID 1
     * and stays a zombie until that reaps it: dead, though ProcessHandle calls it alive.
     */
    private static boolean running(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException gone) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
