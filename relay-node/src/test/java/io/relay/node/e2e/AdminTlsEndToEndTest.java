package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamCertificate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code admin.tls} on a real node: relayctl talks HTTPS with the certificate checked
 * against {@code --cacert} (or {@code RELAYCTL_CACERT}); a wrong CA, the JDK's trust store
 * and plain HTTP to the TLS port each fail with exit 1 and one line; openssl with TLS 1.1
 * only is refused while TLS 1.2 is accepted.
 */
class AdminTlsEndToEndTest {
    private static final String TOKEN = "e2e-tls-token-5be1c07d93a4";
    private NodeProcess node;

    @AfterEach
    void stop() throws InterruptedException {
        if (node != null) {
            node.close();
            node.keepLogs(Path.of("target", "admin-tls-e2e"), "node.err", "node.out");
        }
    }

    @Test
    void relayctlSpeaksVerifiedTls12OrLaterOnly(@TempDir Path dir) throws Exception {
        Tools.require(Tools.OPENSSL);
        UpstreamCertificate cert = UpstreamCertificate.create(dir, "admin", "IP:127.0.0.1,DNS:localhost");
        UpstreamCertificate other = UpstreamCertificate.create(dir, "other-ca", "IP:127.0.0.1");
        Path token = Files.writeString(dir.resolve("admin.token"), TOKEN + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        int smtp = Ports.free();
        int cluster = Ports.free();
        int admin = Ports.free();
        Path nodeDir = dir.resolve("node");
        node = NodeProcess.start(nodeDir, RelayYaml.create().listen(smtp).hostname("tls.relay.test")
                .set("smtp.default-transport", "\"discard:\"").set("queue.spool-dir", nodeDir.resolve("spool"))
                .set("health.listen", "127.0.0.1:" + Ports.free()).drain("0s", "5s")
                .cluster("admin-tls-e2e", "\"127.0.0.1:" + cluster + "\"").set("cluster.listen", "127.0.0.1:" + cluster)
                .admin(admin, token).set("admin.tls.cert-file", cert.certPem()).set("admin.tls.key-file", cert.keyPem())
                .text(), smtp);
        Ports.awaitOpen(admin, Duration.ofSeconds(60));
        String https = "https://127.0.0.1:" + admin;

        // verified HTTPS: --cacert, or RELAYCTL_CACERT with --tls and a bare HOST:PORT
        Cli ok = relayctl(Map.of(), "--node", https, "--cacert", cert.certPem().toString(), "networks", "list");
        assertEquals(0, ok.code(), ok.toString());
        assertTrue(ok.out().contains("127.0.0.0/8"), ok.out());
        Cli change = relayctl(Map.of("RELAYCTL_NODE", "127.0.0.1:" + admin, "RELAYCTL_CACERT", cert.certPem().toString()),
                "--tls", "--json", "networks", "add", "10.44.0.0/16");
        assertEquals(0, change.code(), change.toString());
        assertTrue(new ObjectMapper().readTree(change.out()).get("networks").toString().contains("10.44.0.0/16"));

        // a wrong CA, or none (the JDK's trust store): one line, exit 1
        for (Cli bad : List.of(
                relayctl(Map.of(), "--node", https, "--cacert", other.certPem().toString(), "networks", "list"),
                relayctl(Map.of(), "--node", https, "networks", "list"))) {
            assertEquals(1, bad.code(), bad.toString());
            assertEquals(1, bad.err().strip().lines().count(), bad.err());
            assertEquals("relayctl: the certificate of " + https + " is not trusted — pass --cacert FILE (or"
                    + " RELAYCTL_CACERT) with the CA that signed the node's admin.tls.cert-file", bad.err().strip());
            assertTrue(bad.out().isEmpty(), bad.out());
        }

        // plain HTTP to the TLS port: the node answers (in plain text) what to do
        Cli plain = relayctl(Map.of(), "--node", "127.0.0.1:" + admin, "networks", "list");
        assertEquals(1, plain.code(), plain.toString());
        assertEquals("relayctl: this admin port speaks HTTPS only (admin.tls): use --node https://HOST:PORT or --tls,"
                + " with --cacert FILE", plain.err().strip());

        // TLS 1.1 only is refused by the node; TLS 1.2 is taken (and the chain verifies)
        String tls11 = openssl(dir, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-connect", "127.0.0.1:" + admin,
                "-CAfile", cert.certPem().toString());
        assertTrue(tls11.contains("alert protocol version"), tls11);
        assertTrue(tls11.contains("Cipher is (NONE)") && tls11.contains("no peer certificate available"), tls11);
        String tls12 = openssl(dir, "-tls1_2", "-connect", "127.0.0.1:" + admin, "-CAfile", cert.certPem().toString());
        assertTrue(tls12.matches("(?s).*Protocol\\s*:\\s*TLSv1\\.2.*") && !tls12.contains("Cipher is (NONE)"), tls12);
        assertTrue(tls12.contains("Verify return code: 0 (ok)"), tls12);

        // relayctl as its own process, as an operator runs it
        Cli own = AdminCluster.runProcess(Map.of(), null, "--node", https, "--cacert", cert.certPem().toString(),
                "--token-file", token.toString(), "limits", "list");
        assertEquals(0, own.code(), own.toString());
        assertFalse((own.out() + own.err()).contains(TOKEN));
    }

    private static String openssl(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Tools.OPENSSL, "s_client"));
        cmd.addAll(List.of(args));
        Path log = dir.resolve("openssl-" + args[0].replace("-", "") + ".out");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        p.getOutputStream().close(); // EOF on stdin: s_client ends after the handshake
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        return Files.readString(log);
    }

    private Cli relayctl(Map<String, String> extraEnv, String... args) {
        Map<String, String> env = new HashMap<>(Map.of("RELAYCTL_TOKEN_FILE",
                node.dir().getParent().resolve("admin.token").toString()));
        env.putAll(extraEnv);
        return AdminCluster.runInProcess(env, args);
    }
}
