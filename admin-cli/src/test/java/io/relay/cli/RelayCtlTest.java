package io.relay.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** relayctl's own behaviour without a node: exit codes, one-line errors, help on every subcommand. */
class RelayCtlTest {
    record Result(int code, String out, String err) {
    }

    static Result run(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = RelayCtl.run(args, env, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void helpWorksOnEverySubcommand() {
        for (String[] args : new String[][] {{"--help"}, {"networks", "--help"}, {"networks", "list", "--help"},
                {"networks", "add", "--help"}, {"networks", "remove", "--help"}}) {
            Result r = run(Map.of(), args);
            assertEquals(0, r.code(), String.join(" ", args));
            assertTrue(r.out().startsWith("Usage: relayctl"), r.out());
        }
    }

    @Test
    void usageErrorsExitTwo() {
        assertEquals(2, run(Map.of(), "networks").code());
        assertEquals(2, run(Map.of(), "networks", "add").code());
        assertEquals(2, run(Map.of(), "nosuch").code());
    }

    @Test
    void unreachableNodeIsOneLineSayingWhatToDo(@TempDir Path dir) throws Exception {
        Path token = Files.writeString(dir.resolve("token"), "0123456789abcdef0123");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        Result r = run(Map.of("RELAYCTL_NODE", "127.0.0.1:" + port, "RELAYCTL_TOKEN_FILE", token.toString()),
                "networks", "list");
        assertEquals(1, r.code());
        assertEquals("relayctl: cannot reach 127.0.0.1:" + port
                + ": connection refused — is the node running, is admin.listen set?", r.err().strip());
    }

    @Test
    void missingTokenIsOneLine() {
        Result r = run(Map.of(), "networks", "list");
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("--token-file"), r.err());
    }

    @Test
    void nodeAddressForms() {
        assertEquals("http://10.0.0.1:8025/", AdminClient.base("10.0.0.1").toString());
        assertEquals("http://relay1:9000/", AdminClient.base("relay1:9000").toString());
        assertEquals("http://[::1]:8025/", AdminClient.base("::1").toString());
        assertEquals("http://[::1]:9000/", AdminClient.base("[::1]:9000").toString());
        assertEquals("https://10.0.0.1:8025/", AdminClient.base("https://10.0.0.1").toString());
        assertEquals("https://relay1:9000/", AdminClient.base("HTTPS://relay1:9000/").toString());
        assertEquals("https://relay1:9000/", AdminClient.base("relay1:9000", true).toString(), "--tls");
        assertEquals("http://relay1:9000/", AdminClient.base("http://relay1:9000", true).toString(), "a scheme wins");
    }

    @Test
    void httpsToAPlainPortAndABadCaFileAreOneLine(@TempDir Path dir) throws Exception {
        Path token = Files.writeString(dir.resolve("token"), "0123456789abcdef0123");
        try (ServerSocket plain = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Thread answer = new Thread(() -> {
                while (true) {
                    try (java.net.Socket s = plain.accept()) {
                        s.getInputStream().read(new byte[512]);
                        s.getOutputStream().write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
                                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            });
            answer.setDaemon(true);
            answer.start();
            String node = "https://127.0.0.1:" + plain.getLocalPort();
            Result r = run(Map.of("RELAYCTL_TOKEN_FILE", token.toString()), "--node", node, "networks", "list");
            assertEquals(1, r.code(), r.toString());
            assertEquals("relayctl: " + node + " does not speak TLS — drop https:// and --tls, or set admin.tls on the node",
                    r.err().strip());
        }
        Path notPem = Files.writeString(dir.resolve("ca.pem"), "not a certificate\n");
        Result bad = run(Map.of("RELAYCTL_TOKEN_FILE", token.toString(), "RELAYCTL_CACERT", notPem.toString()),
                "networks", "list");
        assertEquals(1, bad.code());
        assertEquals(1, bad.err().strip().lines().count(), bad.err());
        assertTrue(bad.err().contains("CA file " + notPem), bad.err());
        Result missing = run(Map.of("RELAYCTL_TOKEN_FILE", token.toString()), "--cacert", dir.resolve("nope.pem").toString(),
                "networks", "list");
        assertEquals("relayctl: CA file " + dir.resolve("nope.pem") + " does not exist — check --cacert or RELAYCTL_CACERT",
                missing.err().strip());
    }

    @Test
    void importPostfixHelpUsageAndABadDirectory(@TempDir Path dir) {
        Result help = run(Map.of(), "import-postfix", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().startsWith("Usage: relayctl import-postfix"), help.out());
        assertEquals(2, run(Map.of(), "import-postfix").code(), "DIR is required");
        Result r = run(Map.of(), "import-postfix", dir.toString(), "--dry-run");
        assertEquals(1, r.code());
        assertEquals("relayctl: " + dir.resolve("main.cf") + ": cannot read — is " + dir
                + " a Postfix configuration directory?", r.err().strip());
    }

    @Test
    void helpAndUsageOfTheRoutingCommands() {
        for (String[] args : new String[][] {{"transport", "--help"}, {"transport", "list", "--help"},
                {"transport", "set", "--help"}, {"transport", "remove", "--help"}, {"transport", "import", "--help"},
                {"transport", "test", "--help"}, {"limits", "--help"}, {"limits", "list", "--help"},
                {"limits", "set", "--help"}, {"limits", "remove", "--help"}, {"credentials", "--help"},
                {"credentials", "list", "--help"}, {"credentials", "set", "--help"}, {"credentials", "remove", "--help"}}) {
            Result r = run(Map.of(), args);
            assertEquals(0, r.code(), String.join(" ", args));
            assertTrue(r.out().startsWith("Usage: relayctl"), r.out());
        }
        assertEquals(2, run(Map.of(), "transport").code());
        assertEquals(2, run(Map.of(), "transport", "set", "example.com").code());
        assertEquals(2, run(Map.of(), "limits", "set", "[mx.test]:587").code(), "neither --rate nor --concurrency");
        assertEquals(2, run(Map.of(), "credentials", "set", "[mx.test]:587").code());
    }

    @Test
    void aPasswordOnTheCommandLineIsRefusedWithoutEchoingIt() {
        Result r = run(Map.of(), "credentials", "set", "[mx.test]:587", "user", "s3cret-on-argv");
        assertEquals(2, r.code());
        assertTrue(!r.err().contains("s3cret-on-argv") && !r.out().contains("s3cret-on-argv"), r.err());
        assertTrue(r.err().contains("pipe it on stdin or use --password-file"), r.err());
    }

    @Test
    void anEmptyStdinIsNoPassword(@TempDir Path dir) throws Exception {
        Path token = Files.writeString(dir.resolve("token"), "0123456789abcdef0123");
        RelayCtl root = new RelayCtl();
        StringWriter err = new StringWriter();
        picocli.CommandLine cmd = new picocli.CommandLine(root);
        root.env = Map.of("RELAYCTL_TOKEN_FILE", token.toString(), "RELAYCTL_NODE", "127.0.0.1:1");
        root.stdin = new java.io.ByteArrayInputStream(new byte[0]);
        cmd.setErr(new PrintWriter(err));
        cmd.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("relayctl: " + e.getMessage());
            return 1;
        });
        assertEquals(1, cmd.execute("credentials", "set", "[mx.test]:587", "user"));
        assertTrue(err.toString().contains("no password given"), err.toString());
    }
}
