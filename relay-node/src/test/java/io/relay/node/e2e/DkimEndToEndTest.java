package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.DkimKeyVault;
import io.relay.node.dkim.DkimKey;
import io.relay.node.dkim.DkimKeyPem;
import io.relay.node.dkim.DkimRecordCheck;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code relayctl dkim} against two real nodes (each its own JVM) whose {@code smtp.dns-servers}
 * is a dnsmasq on a loopback port: generate through node A prints the zone line, list through
 * B shows the keys as {@code missing} until dnsmasq serves the printed records, then
 * {@code published} (and {@code mismatch} for a record with another key); activate refuses a
 * selector not in DNS and takes it once published or with {@code --force}; retire refuses the
 * active key and drops another. Refusals are one line. No private key (unsealed here from the
 * state file with the operator's KEK file) appears in a node log or in relayctl's output.
 */
class DkimEndToEndTest {
    private static final String TOKEN = "e2e-dkim-token-8c1f0a77d2";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern ZONE = Pattern.compile(
            "(\\S+)\\._domainkey\\.example\\.com\\. IN TXT \"v=DKIM1; k=(rsa|ed25519); p=[^\"]+\"( \"[^\"]+\")*");
    private AdminCluster cluster;
    private Process dnsmasq;

    @AfterEach
    void stop(TestInfo test) throws InterruptedException {
        stopDns();
        if (cluster != null) {
            cluster.stop(Path.of("target", "dkim-e2e", test.getTestMethod().orElseThrow().getName()));
        }
    }

    @Test
    void generateListActivateRetireWithTheRecordsServedByDnsmasq(@TempDir Path dir) throws Exception {
        Tools.require(Tools.DNSMASQ);
        int dnsPort = Ports.free();
        startDns(dir, dnsPort, List.of());
        byte[] kekBytes = new byte[32];
        new SecureRandom().nextBytes(kekBytes);
        Path kek = Files.setPosixFilePermissions(Files.write(dir.resolve("dkim.kek"), kekBytes),
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        cluster = new AdminCluster(dir, TOKEN);
        cluster.start(dir, "node", true, (i, nodeDir, smtp, clusterPort, adminPort, members) ->
                new NodeYaml(nodeDir, smtp, Ports.free(), clusterPort).with(RelayYaml.relayingTo(Ports.free())
                        .hostname(nodeDir.getFileName() + ".relay.test").drain("0s", "10s")
                        .set("smtp.dns-servers", "[\"127.0.0.1:" + dnsPort + "\"]")
                        .set("dkim.key-encryption-key-file", kek)
                        .cluster("dkim-e2e", members).admin(adminPort, cluster.tokenFile()).text()));
        cluster.awaitAdminPorts(Duration.ofSeconds(60));

        // the first key signs at once; the second waits
        Cli ed = cluster.relayctlInProcess(0, "dkim", "generate", "example.com", "--algo", "ed25519", "--selector", "e1");
        assertEquals(0, ed.code(), ed.toString());
        String edLine = ed.out().strip();
        assertTrue(ZONE.matcher(edLine).matches() && edLine.startsWith("e1."), edLine);
        Cli rsa = cluster.relayctlInProcess(0, "dkim", "generate", "example.com");
        assertEquals(0, rsa.code(), rsa.toString());
        String rsaLine = rsa.out().strip();
        Matcher m = ZONE.matcher(rsaLine);
        assertTrue(m.matches() && m.group(2).equals("rsa") && m.group(1).matches("r\\d{8}"), rsaLine);
        String r = m.group(1);
        assertTrue(rsa.err().contains("dkim activate example.com " + r), rsa.err());
        Cli again = cluster.relayctlInProcess(0, "dkim", "generate", "example.com", "--selector", "e1");
        assertEquals(1, again.code(), again.toString());
        assertEquals("relayctl: selector e1 of example.com exists; choose another with --selector", again.err().strip());

        // listed through B: nothing in DNS yet
        String list = await(() -> cluster.relayctlInProcess(1, "dkim", "list").out(), s -> s.contains(r));
        assertRow(list, "e1", "ed25519", "active", "missing");
        assertRow(list, r, "rsa", "pending", "missing");

        // activate refuses a selector whose record is not seen
        Cli refused = cluster.relayctlInProcess(0, "dkim", "activate", "example.com", r);
        assertEquals(1, refused.code(), refused.toString());
        assertEquals("relayctl: the DNS record of " + r + "._domainkey.example.com is missing; publish it"
                + " (dkim list shows it once seen) or use --force", refused.err().strip());

        // dnsmasq serves the printed records (and, at e9, a record of another key)
        Cli e9 = cluster.relayctlInProcess(0, "dkim", "generate", "example.com", "--algo", "ed25519", "--selector", "e9");
        assertEquals(0, e9.code(), e9.toString());
        stopDns();
        startDns(dir, dnsPort, List.of(edLine, rsaLine, edLine.replaceFirst("^e1\\.", "e9.")));
        list = await(() -> cluster.relayctlInProcess(1, "dkim", "list").out(),
                s -> s.lines().anyMatch(l -> l.startsWith("example.com") && l.contains(" " + r + " ")
                        && l.endsWith("published")));
        assertRow(list, "e1", "ed25519", "active", "published");
        assertRow(list, r, "rsa", "pending", "published");
        assertRow(list, "e9", "ed25519", "pending", "mismatch");

        // published: activate takes it; the old key stays, not signing
        Cli activate = cluster.relayctlInProcess(1, "dkim", "activate", "example.com", r);
        assertEquals(0, activate.code(), activate.toString());
        assertRow(activate.out(), r, "rsa", "active", "published");
        assertRow(activate.out(), "e1", "ed25519", "previous", "published");
        // a mismatching record is refused too; --force takes it
        Cli mismatch = cluster.relayctlInProcess(0, "dkim", "activate", "example.com", "e9");
        assertEquals(1, mismatch.code(), mismatch.toString());
        assertTrue(mismatch.err().strip().endsWith("is mismatch; publish it (dkim list shows it once seen) or use --force"),
                mismatch.err());
        Cli forced = cluster.relayctlInProcess(0, "dkim", "activate", "example.com", "e9", "--force");
        assertEquals(0, forced.code(), forced.toString());
        assertRow(forced.out(), "e9", "ed25519", "active", "mismatch");

        // retire: never the active key; another one goes
        Cli active = cluster.relayctlInProcess(0, "dkim", "retire", "example.com", "e9");
        assertEquals(1, active.code(), active.toString());
        assertEquals("relayctl: selector e9 is the active key of example.com; activate another first",
                active.err().strip());
        Cli retire = cluster.relayctlInProcess(0, "dkim", "retire", "example.com", "e1");
        assertEquals(0, retire.code(), retire.toString());
        assertTrue(retire.out().lines().anyMatch(l -> l.matches("example\\.com\\s+e1\\s+ed25519\\s+\\S+\\s+\\S+\\s+retired\\s+-")),
                retire.out());
        Cli unknown = cluster.relayctlInProcess(0, "dkim", "activate", "example.com", "nope");
        assertEquals(1, unknown.code(), unknown.toString());
        assertEquals("relayctl: no DKIM key nope for example.com; see dkim list", unknown.err().strip());

        // the JSON listing carries no key material beyond what DNS publishes
        Cli json = cluster.relayctlInProcess(1, "--json", "dkim", "list");
        for (JsonNode k : JSON.readTree(json.out()).get("keys")) {
            List<String> fields = new ArrayList<>();
            k.fieldNames().forEachRemaining(fields::add);
            assertTrue(List.of("domain", "selector", "algorithm", "created", "activated", "state", "dns")
                    .containsAll(fields), json.out());
        }

        // the private keys, unsealed here from B's state file with the operator's KEK: in no log and no output
        Path state = cluster.node(1).dir().resolve("spool").resolve("admin-state.json");
        AdminState s = await(state);
        DkimKeyVault vault = DkimKeyVault.fromFile(kek);
        String logs = cluster.logs();
        String cli = cluster.cliOutput() + ed + rsa + list + activate + forced + retire + json;
        int checked = 0;
        for (var e : s.dkim().get("example.com").keys().entrySet()) {
            if (e.getValue().sealed() == null) {
                continue;
            }
            DkimKey key = vault.open("example.com", e.getKey(), e.getValue());
            String pem = DkimKeyPem.write(key);
            for (String line : pem.lines().filter(l -> !l.startsWith("-----")).toList()) {
                assertFalse(logs.contains(line), "private key bytes in a node log");
                assertFalse(cli.contains(line), "private key bytes in relayctl's output");
                assertFalse(Files.readString(state).contains(line), "private key bytes in the state file");
            }
            checked++;
        }
        assertEquals(2, checked);
        assertTrue(logs.contains("dkim key example.com/e1 (ed25519) generated and active by 127.0.0.1:"), "audit");
        assertTrue(logs.contains("dkim key example.com/" + r + " (rsa) activated by 127.0.0.1:"), "audit");
        assertTrue(logs.contains("dkim key example.com/e9 (ed25519) activated with --force by 127.0.0.1:"), "audit");
        assertTrue(logs.contains("dkim key example.com/e1 (ed25519) retired by 127.0.0.1:"), "audit");
    }

    private static void assertRow(String table, String selector, String algorithm, String state, String dns) {
        assertTrue(table.lines().anyMatch(l -> l.matches("example\\.com\\s+" + Pattern.quote(selector) + "\\s+"
                + algorithm + "\\s+\\S+\\s+\\S+\\s+" + state + "\\s+" + Pattern.quote(dns))),
                selector + " " + state + " " + dns + " in\n" + table);
    }

    private static AdminState await(Path state) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            String text = Files.exists(state) ? Files.readString(state) : "";
            if (text.contains("\"retired\":1") || text.matches("(?s).*\"retired\":\\d+.*")) {
                return JSON.readValue(text, AdminState.class);
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("state file without the retired key: " + text);
            }
            Thread.sleep(50);
        }
    }

    /** dnsmasq on 127.0.0.1:port, answering for example.com itself (NXDOMAIN for what it does not serve). */
    private void startDns(Path dir, int port, List<String> zoneLines) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Tools.DNSMASQ, "--no-daemon", "--port=" + port,
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
                "--conf-file=/dev/null", "--local=/example.com/"));
        for (String line : zoneLines) {
            Matcher q = Pattern.compile("\"([^\"]*)\"").matcher(line);
            StringBuilder text = new StringBuilder();
            while (q.find()) {
                text.append(q.group(1));
            }
            // the whole text unquoted: dnsmasq cuts it into 255-byte strings itself
            cmd.add("--txt-record=" + line.split("\\s+")[0].replaceAll("\\.$", "") + "," + text);
        }
        dnsmasq = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("dnsmasq-" + zoneLines.size() + ".out").toFile()).start();
        DkimRecordCheck probe = new DkimRecordCheck(List.of(new InetSocketAddress("127.0.0.1", port)),
                Duration.ofSeconds(1));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (probe.check("example.com", "probe", "x") == DkimRecordCheck.Status.LOOKUP_FAILED) {
            if (System.nanoTime() > end || !dnsmasq.isAlive()) {
                throw new AssertionError("dnsmasq did not answer on port " + port);
            }
            Thread.sleep(100);
        }
    }

    private void stopDns() throws InterruptedException {
        if (dnsmasq != null) {
            dnsmasq.destroy();
            dnsmasq.waitFor(5, TimeUnit.SECONDS);
            dnsmasq.destroyForcibly();
            dnsmasq = null;
        }
    }

    private static String await(java.util.function.Supplier<String> read, java.util.function.Predicate<String> done)
            throws InterruptedException {
        return AdminCluster.await(read, done, Duration.ofSeconds(30), 200);
    }
}
