package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.node.auth.PasswordHash;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code relayctl users} and {@code relay-node hash-password} against two real nodes (each
 * its own JVM, relayctl its own too): the bootstrap file written with hash-password seeds
 * the users table, users added through node A (password on stdin, or {@code --generate})
 * are listed on node B and stored there as hashes of exactly those passwords (relayctl in a
 * JVM of its own where stdin matters, else its entry point in the test's JVM); a password
 * change, refusals with one line each, a removal; after SIGTERM and restart of both nodes the
 * users are still there and the removed bootstrap user did not come back. No password and no
 * hash appears in a node log or in relayctl's output (a generated password once, by design).
 */
class UsersEndToEndTest {
    private static final String TOKEN = "e2e-users-token-3b9d7e21c4";
    private static final String BOOT_PASSWORD = "Boot-pw-6t!never-logged";
    private static final String PASSWORD = "Web-pw-9q!never-logged";
    private static final String NEW_PASSWORD = "Web-pw-2z!changed-never-logged";
    private static final ObjectMapper JSON = new ObjectMapper();
    private AdminCluster cluster;

    @AfterEach
    void stop(TestInfo test) throws InterruptedException {
        if (cluster != null) {
            cluster.stop(Path.of("target", "users-e2e", test.getTestMethod().orElseThrow().getName()));
        }
    }

    @Test
    void usersThroughOneNodeAreOnTheOtherAsHashesAndSurviveARestartWithoutTheRemovedBootstrapUser(@TempDir Path dir)
            throws Exception {
        // the operator's bootstrap file, its hash from relay-node hash-password
        Cli hashed = hashPassword(BOOT_PASSWORD + "\n");
        assertEquals(0, hashed.code(), hashed.toString());
        String bootHash = hashed.out().strip();
        assertTrue(bootHash.startsWith("$argon2id$v=19$") && PasswordHash.verify(BOOT_PASSWORD, bootHash), bootHash);
        assertFalse(hashed.out().contains(BOOT_PASSWORD) || hashed.err().contains(BOOT_PASSWORD), hashed.toString());
        Cli noInput = hashPassword("");
        assertEquals(1, noInput.code(), noInput.toString());
        assertEquals(1, noInput.err().strip().lines().count(), noInput.err());
        Path usersFile = Files.writeString(dir.resolve("sasl-users"),
                "# NAME:HASH[:SENDERS[:RATES]]\nseeded:" + bootHash + ":@example.com:50/m\n");

        cluster = new AdminCluster(dir, TOKEN);
        cluster.start(dir, "node", true, (i, nodeDir, smtp, clusterPort, adminPort, members) ->
                new NodeYaml(nodeDir, smtp, Ports.free(), clusterPort).with(RelayYaml.relayingTo(Ports.free())
                        .hostname(nodeDir.getFileName() + ".relay.test").drain("0s", "10s")
                        .set("smtpd.sasl-users-file", usersFile)
                        .cluster("users-e2e", members).admin(adminPort, cluster.tokenFile()).text()));
        cluster.awaitAdminPorts(Duration.ofSeconds(60));
        await(() -> cluster.relayctlInProcess(1, "users", "list").out(),
                s -> s.lines().anyMatch(l -> l.matches("seeded\\s+@example\\.com\\s+50/m")));

        // add through A, password on stdin: listed on B, stored there as its hash
        Cli add = cluster.relayctl(0, PASSWORD + "\n", "users", "add", "webapp", "--sender", "@example.com",
                "--sender", "noreply@example.org", "--rate", "100/m", "--rate", "10000/d");
        assertEquals(0, add.code(), add.toString());
        assertTrue(add.out().startsWith("NAME"), add.out());
        await(() -> cluster.relayctlInProcess(1, "users", "list").out(), s -> s.lines()
                .anyMatch(l -> l.matches("webapp\\s+@example\\.com, noreply@example\\.org\\s+100/m, 10000/d")));
        awaitStoredPassword(1, "webapp", PASSWORD);

        // --generate: printed once, at least 20 characters, and it is the one stored
        Cli gen = cluster.relayctlInProcess(0, "users", "add", "lambda", "--generate");
        assertEquals(0, gen.code(), gen.toString());
        String generated = generated(gen.out(), "lambda");
        assertTrue(generated.length() >= 20, generated);
        assertTrue(gen.out().lines().anyMatch(l -> l.matches("lambda\\s+\\(any\\)\\s+\\(none\\)")), gen.out());
        awaitStoredPassword(1, "lambda", generated);

        // passwd: stdin, then --generate with --json
        Cli passwd = cluster.relayctl(0, NEW_PASSWORD + "\n", "users", "passwd", "webapp");
        assertEquals(0, passwd.code(), passwd.toString());
        awaitStoredPassword(1, "webapp", NEW_PASSWORD);
        Cli regen = cluster.relayctlInProcess(0, "--json", "users", "passwd", "lambda", "--generate");
        assertEquals(0, regen.code(), regen.toString());
        JsonNode answer = JSON.readTree(regen.out());
        String regenerated = answer.get("generatedPassword").asText();
        assertTrue(regenerated.length() >= 20 && !regenerated.equals(generated), regen.out());
        awaitStoredPassword(1, "lambda", regenerated);

        // the JSON listing has names, senders and rates only
        Cli json = cluster.relayctlInProcess(1, "--json", "users", "list");
        assertEquals(0, json.code(), json.toString());
        for (JsonNode u : JSON.readTree(json.out()).get("users")) {
            List<String> fields = new ArrayList<>();
            u.fieldNames().forEachRemaining(fields::add);
            assertEquals(List.of("name", "senders", "rates"), fields, json.out());
        }

        // refusals: one line each; a password on the command line is a usage error and not echoed
        Cli empty = cluster.relayctl(0, "", "users", "add", "nopw");
        assertEquals(1, empty.code(), empty.toString());
        assertTrue(empty.err().contains("no password given"), empty.err());
        Cli argv = cluster.relayctl(0, PASSWORD + "\n", "users", "add", "argv", PASSWORD);
        assertEquals(2, argv.code(), argv.toString());
        assertFalse(argv.err().contains(PASSWORD), argv.err());
        Cli badSender = cluster.relayctlInProcess(0, "users", "add", "bad", "--generate", "--sender", "not-an-address");
        assertEquals(1, badSender.code(), badSender.toString());
        assertEquals("relayctl: user bad: bad sender not-an-address (an address or @domain)", badSender.err().strip());
        Cli exists = cluster.relayctlInProcess(0, "users", "passwd", "ghost", "--generate");
        assertEquals(1, exists.code(), exists.toString());
        assertEquals(1, exists.err().strip().lines().count(), exists.err());
        assertTrue(exists.err().contains("no user ghost"), exists.err());

        // remove the bootstrap user (and a name nobody has: a warning)
        Cli remove = cluster.relayctlInProcess(0, "users", "remove", "seeded", "nobody");
        assertEquals(0, remove.code(), remove.toString());
        assertTrue(remove.err().contains("warning: no user nobody"), remove.err());
        await(() -> cluster.relayctlInProcess(1, "users", "list").out(), s -> !s.contains("seeded"));

        // SIGTERM both, start both again: the users are there, the removed bootstrap user is not
        cluster.terminateAndRestart();
        cluster.awaitAdminPorts(Duration.ofSeconds(60));
        for (int node = 0; node < 2; node++) {
            int n = node;
            String list = await(() -> cluster.relayctlInProcess(n, "users", "list").out(), s -> s.contains("webapp"));
            assertTrue(list.contains("lambda") && !list.contains("seeded"), "node " + node + ": " + list);
            assertTrue(PasswordHash.verify(NEW_PASSWORD, storedHash(node, "webapp")), "node " + node);
        }
        String logs = cluster.logs();
        assertTrue(logs.contains("1 user of " + usersFile + " put in the cluster's users table (seeded)"), "seed audit");
        assertTrue(logs.contains("smtpd.sasl-users-file " + usersFile + " ignored: the cluster's users table is managed"
                + " with relayctl users; the file's users not in it: seeded"), "the INFO line at the restart");
        assertTrue(logs.contains("user webapp added (senders @example.com, noreply@example.org, rates 100/m, 10000/d)"
                + " by 127.0.0.1:"), "audit");
        assertTrue(logs.contains("password of user webapp changed by 127.0.0.1:"), "audit");
        assertTrue(logs.contains("user seeded removed by 127.0.0.1:"), "audit");

        // no password and no hash in any node log or relayctl output; a generated password once
        List<String> hashes = new ArrayList<>(List.of(bootHash, storedHash(0, "webapp"), storedHash(0, "lambda")));
        String cli = cluster.cliOutput();
        for (String secret : List.of(BOOT_PASSWORD, PASSWORD, NEW_PASSWORD, generated, regenerated)) {
            assertFalse(logs.contains(secret), "a password in a node log");
        }
        for (String secret : List.of(BOOT_PASSWORD, PASSWORD, NEW_PASSWORD)) {
            assertFalse(cli.contains(secret), "a password in relayctl's output");
        }
        assertEquals(1, count(cli, generated), "the generated password is printed once");
        assertEquals(1, count(cli, regenerated), "the generated password is printed once");
        for (String h : hashes) {
            String salt = h.split("\\$")[4];
            assertFalse(logs.contains(h) || logs.contains(salt), "a hash in a node log");
            assertFalse(cli.contains(h) || cli.contains(salt), "a hash in relayctl's output");
        }
        assertFalse(logs.contains("$argon2id$") || cli.contains("$argon2id$"), "no hash at all");
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }

    private static String generated(String out, String name) {
        Matcher m = Pattern.compile("generated password for " + name + " \\(shown once\\): (\\S+)").matcher(out);
        assertTrue(m.find(), out);
        return m.group(1);
    }

    /** The hash of {@code name} in node {@code node}'s admin state file (the node writes every state it takes). */
    private String storedHash(int node, String name) throws Exception {
        Path file = cluster.node(node).dir().resolve("spool").resolve("admin-state.json");
        JsonNode u = JSON.readTree(Files.readString(file)).path("users").path(name);
        return u.path("hash").asText("");
    }

    private void awaitStoredPassword(int node, String name, String password) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!PasswordHash.verify(password, storedHash(node, name)) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(PasswordHash.verify(password, storedHash(node, name)), name + " on node " + node);
    }

    private static String await(java.util.function.Supplier<String> read, java.util.function.Predicate<String> done)
            throws InterruptedException {
        return AdminCluster.await(read, done, Duration.ofSeconds(30), 20);
    }

    /** {@code relay-node hash-password} in its own JVM with {@code stdin}. */
    private static Cli hashPassword(String stdin) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.relay.node.Main", "hash-password");
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("hash-password did not finish");
        }
        return new Cli(p.exitValue(), out, err);
    }
}
