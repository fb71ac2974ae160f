package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.relay.node.Main;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A Postfix operator's first hour with import-postfix: each of the users' setups (the
 * fixtures) comes out listening where its Postfix listened, not on the developer default
 * 127.0.0.1:2525; a setup with {@code inet_interfaces = 127.0.0.1} and a {@code PORT inet}
 * smtpd line, imported by {@code relay-node import-postfix} and started unedited but for
 * the node's own ports and paths, takes mail from swaks on that port and delivers it;
 * relayctl's import of the same directory says the listener is node-local; and relayctl's
 * open-relay refusal tells the operator the option it has ({@code --force}).
 */
class FirstHourImportTest {
    private static final Path FIXTURES = Path.of("../routing/src/test/resources/fixtures");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final String TOKEN = "firsthour-import-token-7c1e9a";

    @TempDir
    static Path dir;
    static AiosmtpdUpstream upstream;
    static NodeProcess node;
    static Path postfixDir;
    static int smtpPort;
    static Map<String, String> relayctlEnv;

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', textBlock = """
            ses-selected-destinations | 127.0.0.1:25 [::1]:25
            ses-relayhost-587         | 127.0.0.1:25 [::1]:25
            elb-relay-mynetworks      | 0.0.0.0:25
            ses-relayhost-port25      | [::]:25
            smarthost-sandbox-rate    | [::]:25
            """)
    void eachUsersSetupListensWhereItsPostfixListened(String fixture, String listen, @TempDir Path tmp)
            throws Exception {
        Path copy = tmp.resolve(fixture);
        copyDir(FIXTURES.resolve(fixture), copy);
        Imported r = importPostfix(copy, tmp.resolve("relay.yaml"));
        assertEquals(0, r.code(), r.stderr());
        assertEquals(List.of(listen.split(" ")), listen(r.yaml()), r.yaml().toString());
        if (fixture.equals("elb-relay-mynetworks")) {
            // its master.cf also has submission with SASL: listed, without a listener
            assertTrue(r.stderr().lines().anyMatch(l -> l.contains("submission inet smtpd")
                    && l.contains("not offered by this relay")), r.stderr());
        }
        assertFalse(r.stderr().contains("SASL-authenticated clients"), "no inbound SASL is claimed: " + r.stderr());
    }

    /** A Postfix on 127.0.0.1:PORT relaying to a smart host, imported and started as written. */
    @BeforeAll
    static void importAndStartALoopbackSetup() throws Exception {
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        upstream = AiosmtpdUpstream.builder(dir.resolve("up")).start();
        smtpPort = Ports.free();
        postfixDir = Files.createDirectories(dir.resolve("postfix"));
        Files.writeString(postfixDir.resolve("main.cf"), """
                myhostname = relay1.firsthour.test
                inet_interfaces = 127.0.0.1
                inet_protocols = ipv4
                mynetworks = 127.0.0.0/8
                relayhost = [127.0.0.1]:%d
                smtp_tls_security_level = none
                """.formatted(upstream.port()));
        Files.writeString(postfixDir.resolve("master.cf"), """
                %d      inet  n       -       n       -       -       smtpd
                submission inet n     -       n       -       -       smtpd
                  -o smtpd_sasl_auth_enable=yes
                pickup    unix  n       -       n       60      1       pickup
                cleanup   unix  n       -       n       -       0       cleanup
                qmgr      unix  n       -       n       300     1       qmgr
                smtp      unix  -       -       n       -       -       smtp
                """.formatted(smtpPort));
        Path yamlFile = dir.resolve("node/relay.yaml");
        Files.createDirectories(yamlFile.getParent());
        Imported r = importPostfix(postfixDir, yamlFile);
        assertEquals(0, r.code(), r.stderr());
        assertEquals(List.of("127.0.0.1:" + smtpPort), listen(r.yaml()), r.yaml().toString());

        // Only what a node needs of its own: spool, log, health, cluster and admin ports.
        Path tokenFile = Files.writeString(dir.resolve("admin.token"), TOKEN + "\n");
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        ObjectNode root = (ObjectNode) r.yaml();
        Path nodeDir = yamlFile.getParent();
        root.withObjectProperty("queue").put("spool-dir", nodeDir.resolve("spool").toString());
        root.withObjectProperty("log").put("file", nodeDir.resolve("mail.log").toString());
        root.withObjectProperty("health").put("listen", "127.0.0.1:" + Ports.free());
        root.withObjectProperty("cluster").put("listen", "127.0.0.1:" + Ports.free());
        int adminPort = Ports.free();
        root.withObjectProperty("admin").put("listen", "127.0.0.1:" + adminPort).put("token-file", tokenFile.toString());
        node = NodeProcess.start(nodeDir, YAML.writeValueAsString(root), smtpPort);
        Ports.awaitOpen(adminPort, Duration.ofSeconds(60));
        relayctlEnv = Map.of("RELAYCTL_NODE", "127.0.0.1:" + adminPort, "RELAYCTL_TOKEN_FILE", tokenFile.toString());
    }

    @AfterAll
    static void stop() throws Exception {
        if (node != null) {
            node.close();
            node.keepLogs(Path.of("target", "firsthour", "import"), "node.err", "node.out", "mail.log");
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void theImportedListenerTakesMailAndItGoesOut() throws Exception {
        Tools.require(Tools.SWAKS);
        Process p = new ProcessBuilder(Tools.SWAKS, "--server", "127.0.0.1:" + smtpPort, "--from", "app@web1.test",
                "--to", "someone@example.org", "--silent", "2", "--timeout", "30").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (upstream.messages().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals(1, upstream.messages().size(), "delivered to the relayhost");
        assertEquals(List.of("someone@example.org"), upstream.messages().get(0).recipients());
    }

    @Test
    void relayctlImportSaysTheListenerIsNodeLocal() {
        Cli c = AdminCluster.runInProcess(relayctlEnv, "import-postfix", postfixDir.toString(), "--dry-run");
        assertEquals(0, c.code(), c.toString());
        assertTrue(c.out().lines().anyMatch(l -> l.contains("relay.yaml smtpd.listen = 127.0.0.1:" + smtpPort)
                && l.contains("node-local") && l.contains("not applied")), c.out());
    }

    @Test
    void relayctlsOpenRelayRefusalNamesItsForceOption() {
        Cli c = AdminCluster.runInProcess(relayctlEnv, "networks", "add", "0.0.0.0/0");
        assertEquals(1, c.code(), c.toString());
        assertEquals(1, c.err().strip().lines().count(), c.err());
        assertTrue(c.err().contains("open relay") && c.err().contains("--force"), c.err());
        assertFalse(c.err().contains("pass force"), c.err());
    }

    private record Imported(int code, JsonNode yaml, String stderr) {
    }

    /** {@code relay-node import-postfix DIR --out FILE}, as an operator runs it (in this JVM). */
    private static Imported importPostfix(Path postfix, Path out) throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream oldErr = System.err;
        int code;
        try {
            System.setErr(new PrintStream(err, true));
            code = new picocli.CommandLine(new Main()).execute("import-postfix", postfix.toString(), "--out",
                    out.toString());
        } finally {
            System.setErr(oldErr);
        }
        JsonNode yaml = Files.exists(out) ? YAML.readTree(out.toFile()) : YAML.createObjectNode();
        return new Imported(code, yaml, err.toString());
    }

    private static List<String> listen(JsonNode yaml) {
        List<String> out = new ArrayList<>();
        yaml.path("smtpd").path("listen").forEach(n -> out.add(n.asText()));
        return out;
    }

    private static void copyDir(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }
}
