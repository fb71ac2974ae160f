package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 16, items 3, 6, 8 (Ctrl-C) and 9 (the process): what an operator meets when a node
 * starts, is reloaded, is stopped, or loses its cluster member. Every node runs in its own
 * JVM from a minimal YAML, driven with kill(1) and real clients as an operator would.
 */
class FirstHourLifecycleTest {
    private static final Duration EXIT = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    private final int smtp = Ports.free();
    private final int health = Ports.free();
    private final int cluster = Ports.free();
    private final int admin = Ports.free();

    /** Mail captured in var/mail, and {@code more} of the operator's keys; the ports are the fields'. */
    private String yaml(String more) {
        return new NodeYaml(tmp.resolve("node"), smtp, health, cluster).with("""
                smtp:
                  default-transport: "file:var/mail"
                """ + more);
    }

    /** The lines of a failed start's stderr; the error line is the last. */
    private static List<String> failedStart(NodeProcess node) throws Exception {
        int status = node.awaitExit(EXIT);
        String err = node.stderr();
        assertNotEquals(0, status, "exit status; stderr:\n" + err);
        assertFalse(err.contains("Exception"), "no exception on the console:\n" + err);
        assertFalse(err.contains("\tat "), "no stack trace on the console:\n" + err);
        List<String> errors = err.lines().filter(l -> l.startsWith("relay-node: ")).toList();
        assertEquals(1, errors.size(), "one error line:\n" + err);
        List<String> lines = err.lines().toList();
        assertEquals(errors.get(0), lines.get(lines.size() - 1), "the error line is the last:\n" + err);
        return lines;
    }

    @ParameterizedTest(name = "{0} busy")
    @ValueSource(strings = {"smtpd.listen", "health.listen", "cluster.listen", "admin.listen",
        "smtpd.submission.listen", "smtpd.submissions.listen"})
    void aBusyPortStopsTheStartWithOneLineNamingTheKey(String key) throws Exception {
        int submission = Ports.free();
        int port = switch (key) {
            case "smtpd.listen" -> smtp;
            case "health.listen" -> health;
            case "cluster.listen" -> cluster;
            case "smtpd.submission.listen", "smtpd.submissions.listen" -> submission;
            default -> admin;
        };
        Path token = tmp.resolve("admin.token");
        Files.writeString(token, "0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        String more = """
                admin:
                  listen: 127.0.0.1:%d
                  token-file: %s
                """.formatted(admin, token);
        if (key.startsWith("smtpd.submission")) {
            more += key.replace("smtpd.", "smtpd:\n  ").replace(".listen", ":\n    listen: [\"127.0.0.1:" + port
                    + "\"]\n");
        }
        // another process (here the test) holds the port, as a second node on one host would
        try (ServerSocket busy = new ServerSocket()) {
            busy.bind(new InetSocketAddress("127.0.0.1", port));
            long t0 = System.nanoTime();
            try (NodeProcess node = NodeProcess.launch(tmp.resolve("node"), yaml(more))) {
                List<String> lines = failedStart(node);
                assertEquals("relay-node: " + key + " 127.0.0.1:" + port + ": address already in use",
                        lines.get(lines.size() - 1));
                System.out.printf("%s busy: exit after %d ms%n", key, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            }
        }
    }

    @ParameterizedTest(name = "{0} unusable")
    @ValueSource(strings = {"queue.spool-dir", "log.file"})
    void anUnwritablePathStopsTheStartWithOneLineNamingTheKey(String key) throws Exception {
        // a path under a regular file fails for root too (tests run as root; modes would not)
        Path dir = tmp.resolve("node");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("plain-file"), "not a directory\n");
        String yaml = key.equals("log.file")
                ? yaml("log:\n  file: plain-file/mail.log\n")
                : yaml("queue:\n  spool-dir: plain-file/spool\n");
        try (NodeProcess node = NodeProcess.launch(dir, yaml)) {
            List<String> lines = failedStart(node);
            String path = key.equals("log.file") ? "plain-file/mail.log" : "plain-file/spool";
            // the start's preflight (the checks of relay-node check) or the start itself says it:
            // either way one line with the key, the path and the reason
            String last = lines.get(lines.size() - 1);
            assertTrue(last.startsWith("relay-node: ") && last.contains(key) && last.contains(path)
                    && last.endsWith("not a directory"), last);
        }
    }

    @Test
    void sighupReopensTheMailLogAndAppliesReloadableKeys() throws Exception {
        Tools.require(Tools.PYTHON3);
        Path dir = tmp.resolve("node");
        try (NodeProcess node = NodeProcess.start(dir, yaml(""), smtp)) {
            assertEquals("250 250", twoRecipients(), "recipient-limit 1000 at start");
            Path log = dir.resolve("mail.log");
            node.awaitMailLog("from=<app@example.com>", Duration.ofSeconds(20));

            // logrotate: move the file away, then HUP (its postrotate does `systemctl reload relay`)
            Path rotated = dir.resolve("mail.log.1");
            Files.move(log, rotated);
            Files.writeString(dir.resolve("relay.yaml"), yaml("smtpd:\n  recipient-limit: 1\n  max-connections: 100\n"
                    + "  sasl-auth-enable: true\n  submission:\n    listen: [\"127.0.0.1:" + Ports.free() + "\"]\n"));
            node.signal("HUP");
            String applied = node.awaitStderr("reload: smtpd.recipient-limit", Duration.ofSeconds(20));
            assertTrue(applied.endsWith("reload: smtpd.recipient-limit: 1000 -> 1 (applied to new sessions)"), applied);
            String restart = node.awaitStderr("reload: smtpd.max-connections", Duration.ofSeconds(5));
            assertTrue(restart.endsWith("reload: smtpd.max-connections: changed; needs a restart"
                    + " (the running node keeps the old value)"), restart);
            for (String key : List.of("smtpd.sasl-auth-enable", "smtpd.submission.listen")) { // listeners' keys (issue 20)
                String line = node.awaitStderr("reload: " + key, Duration.ofSeconds(5));
                assertTrue(line.endsWith("reload: " + key + ": changed; needs a restart (the running node keeps the old value)"),
                        line);
            }
            assertTrue(node.alive(), "SIGHUP does not stop the node");
            node.awaitMailLog("reload -- configuration", Duration.ofSeconds(20));
            long rotatedSize = Files.size(rotated);

            assertEquals("250 452", twoRecipients(), "recipient-limit 1 after the reload");
            node.awaitMailLog("from=<app@example.com>", Duration.ofSeconds(20));
            assertEquals(rotatedSize, Files.size(rotated), "nothing more goes to the rotated file");

            // a broken file keeps the running configuration, with one error line
            Files.writeString(dir.resolve("relay.yaml"), "smtpd:\n\trecipient-limit: 5\n");
            node.signal("HUP");
            String error = node.awaitStderr("keeping the running configuration", Duration.ofSeconds(20));
            assertTrue(error.contains("ERROR") && error.contains("relay.yaml: not valid YAML"), error);
            assertTrue(node.alive(), "a bad reload does not stop the node");
            assertEquals("250 452", twoRecipients(), "the running configuration stays");

            // so does a file whose value start would refuse
            Files.writeString(dir.resolve("relay.yaml"), yaml("smtpd:\n  recipient-limit: 0\n"));
            node.signal("HUP");
            String refused = node.awaitStderr("smtpd.recipient-limit: must be positive", Duration.ofSeconds(20));
            assertTrue(refused.contains("ERROR") && refused.endsWith("keeping the running configuration"), refused);
            assertEquals("250 452", twoRecipients(), "the running configuration stays");
            assertFalse(node.stderr().contains("\tat "), node.stderr());
        }
    }

    @Test
    void ctrlCSaysThatASecondSignalStopsAtOnce() throws Exception {
        try (NodeProcess node = NodeProcess.start(tmp.resolve("node"), yaml(""), smtp)) {
            node.signal("INT");
            String line = node.awaitStderr("SIGINT received", Duration.ofSeconds(20));
            assertTrue(line.endsWith("SIGINT received: draining for 30s (health.drain-delay); send it again to stop now"),
                    line);
            node.signal("INT");
            assertEquals(0, node.awaitExit(Duration.ofSeconds(60)));
            // cut short, yet closed in order: the spool's last records flushed
            assertFalse(node.stderr().contains("did not flush cleanly"), node.stderr());
        }
    }

    @Test
    void aClusterMemberThatDiesUnderTheNodeFailsHealthzAndEndsTheProcess() throws Exception {
        try (NodeProcess node = NodeProcess.start(tmp.resolve("node"), yaml(""), smtp)) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
            assertEquals(200, healthz(http), "/healthz before");
            // What Hazelcast does when one of its threads meets an OutOfMemoryError: its handler
            // closes the member's connections and stops it, without lifecycle events.
            loadAgent(node.pid(), MemberOutOfMemoryAgent.class);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            int status = 200;
            while (status == 200 && System.nanoTime() < deadline) {
                status = healthz(http);
                Thread.sleep(100);
            }
            assertNotEquals(200, status, "/healthz after the member died");
            int exit = node.awaitExit(Duration.ofSeconds(60));
            assertNotEquals(0, exit, "exit status after the member died");
            assertTrue(node.stderr().contains("the cluster member stopped under the node"), node.stderr());
        }
    }

    /** /healthz's status; a refused connection (the node already gone) counts as 0. */
    private int healthz(HttpClient http) throws InterruptedException {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + health + "/healthz"))
                    .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return 0;
        }
    }

    /** Python's smtplib sends one message to two recipients; returns both RCPT reply codes. */
    private String twoRecipients() throws Exception {
        String script = """
                import smtplib, sys
                s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)
                s.ehlo('app.example.com')
                s.mail('app@example.com')
                a = s.rcpt('a@example.org')[0]
                b = s.rcpt('b@example.org')[0]
                s.data(b'Subject: reload\\r\\n\\r\\nhello\\r\\n')
                s.quit()
                print(a, b)
                """;
        Tools.Run p = Tools.run(Duration.ofSeconds(30), Tools.PYTHON3, "-c", script, Integer.toString(smtp));
        assertEquals(0, p.exit(), p.output());
        return p.output().trim();
    }

    /**
     * Loads {@code agent} (its {@code agentmain}) into the JVM {@code pid} with the attach API.
     * The jar holds only a manifest: the class itself is on the node's class path (the tests').
     */
    private void loadAgent(long pid, Class<?> agent) throws Exception {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().putValue("Agent-Class", agent.getName());
        Path jar = tmp.resolve("agent.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), m)) {
            out.flush();
        }
        com.sun.tools.attach.VirtualMachine vm = com.sun.tools.attach.VirtualMachine.attach(Long.toString(pid));
        try {
            vm.loadAgent(jar.toString());
        } finally {
            vm.detach();
        }
    }
}
