package io.relay.node.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.admin.api.AdminApi;
import io.relay.node.cluster.AdminStateStore;
import io.relay.node.cluster.ClusterDkimKeys;
import io.relay.node.cluster.DkimKeyVault;
import io.relay.node.delivery.DnsmasqServer;
import io.relay.node.dkim.DkimKey;
import io.relay.node.dkim.DkimRecordCheck;
import io.relay.node.dkim.DkimSigner;
import io.relay.node.dkim.Verifiers;
import io.relay.node.testing.TwoMembers;
import io.relay.queue.ClusterMember;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DKIM keys across two in-JVM members: a key generated through A's endpoint is unsealed on B
 * by B's own copy of the KEK file and signs there, and python3-dkim verifies that signature
 * against the zone line A printed; a full restart brings the keys back from the state files;
 * a node with another KEK file or none names the problem in one line and signs nothing; and
 * neither the state files nor the answers hold the private key.
 */
class DkimKeysClusterTest {
    private static final List<String> NETWORKS = List.of("127.0.0.0/8");
    private static final String MESSAGE = "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\n"
            + "Subject: keys from the cluster\r\nDate: Mon, 7 Dec 2026 21:00:00 +0000\r\n"
            + "Message-ID: <dkim-cluster@example.com>\r\n\r\nSigned on member B.\r\n.dot line\r\n";
    private TwoMembers cluster;
    private final List<AdminStateStore> stores = new ArrayList<>();

    @AfterEach
    void stop() {
        stores.forEach(AdminStateStore::close);
        if (cluster != null) {
            cluster.close();
        }
    }

    private AdminStateStore store(ClusterMember m, Path spool, Consumer<io.relay.node.cluster.AdminState> follow)
            throws Exception {
        AdminStateStore s = new AdminStateStore(m.hazelcast(), NETWORKS, Files.createDirectories(spool), n -> { },
                follow, Clock.systemUTC());
        s.start();
        stores.add(s);
        return s;
    }

    @Test
    void aKeyGeneratedThroughAIsUnsealedAndSignsOnBAndSurvivesARestart(@TempDir Path dir) throws Exception {
        byte[] kekBytes = new byte[48];
        new java.security.SecureRandom().nextBytes(kekBytes);
        Path kekA = private600(Files.write(dir.resolve("kek-a"), kekBytes));
        Path kekB = private600(Files.write(dir.resolve("kek-b"), kekBytes)); // the operator's copy on node B
        Path otherKek = private600(Files.write(dir.resolve("kek-other"),
                "another file of more than thirty-two bytes!".getBytes()));
        cluster = TwoMembers.start();
        try (DnsmasqServer dns = DnsmasqServer.start(dir, "--local=/example.com/")) {
            // --local: dnsmasq answers for example.com itself, NXDOMAIN for the records not published
            DkimRecordCheck check = new DkimRecordCheck(List.of(dns.address()), Duration.ofSeconds(3));
            ClusterDkimKeys onB = new ClusterDkimKeys(DkimKeyVault.fromFile(kekB));
            ClusterDkimKeys otherKekOnB = new ClusterDkimKeys(DkimKeyVault.fromFile(otherKek));
            ClusterDkimKeys noKekOnB = new ClusterDkimKeys(null);
            AdminStateStore a = store(cluster.a(), dir.resolve("a"), s -> { });
            store(cluster.b(), dir.resolve("b"), s -> {
                onB.apply(s);
                otherKekOnB.apply(s);
                noKekOnB.apply(s);
            });
            DkimEndpoint endpoint = new DkimEndpoint(a, DkimKeyVault.fromFile(kekA), check);

            AdminApi.Dkim ed = endpoint.change(new AdminApi.DkimChange(
                    new AdminApi.DkimGenerate("Example.COM", "ed25519", "e1"), null, null), "test");
            AdminApi.Dkim rsa = endpoint.change(new AdminApi.DkimChange(
                    new AdminApi.DkimGenerate("example.com", null, null), null, null), "test");
            assertTrue(ed.record().matches("e1\\._domainkey\\.example\\.com\\. IN TXT \"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]+\""),
                    ed.record());
            assertTrue(rsa.record().matches("r\\d{8}\\._domainkey\\.example\\.com\\. IN TXT \"v=DKIM1; k=rsa; p=.*\""),
                    rsa.record());
            String rsaSelector = rsa.record().substring(0, rsa.record().indexOf('.'));
            assertEquals(List.of("e1:active:missing", rsaSelector + ":pending:missing"),
                    rsa.keys().stream().map(k -> k.selector() + ":" + k.state() + ":" + k.dns()).sorted().toList());

            // B signs with the key made on A, and an independent verifier agrees with the printed record
            await(() -> onB.active("example.com"), k -> !k.isEmpty());
            DkimKey key = onB.active("example.com").get(0);
            assertEquals("e1", key.selector());
            Path signed = dir.resolve("signed.eml");
            Files.write(signed, signed(key));
            assertEquals(List.of("pass"), Verifiers.python(dir, List.of(ed.record()), List.of(signed)));
            Path changed = dir.resolve("changed.eml");
            Files.writeString(changed, Files.readString(signed).replace("Signed on member B.", "Signed on member C."));
            assertEquals(List.of("fail:body-hash"), Verifiers.python(dir, List.of(ed.record()), List.of(changed)));

            // another KEK, or none: one line each, nothing signs
            assertTrue(otherKekOnB.active("example.com").isEmpty());
            String other = otherKekOnB.problem("example.com").orElseThrow();
            assertTrue(other.startsWith("DKIM key example.com/e1 was sealed with key-encryption key "), other);
            assertTrue(noKekOnB.problem("example.com").orElseThrow().contains("no dkim.key-encryption-key-file set"));
            // A without a KEK refuses to generate, naming the setting
            DkimEndpoint noKek = new DkimEndpoint(a, null, check);
            var refused = assertThrows(IllegalArgumentException.class, () -> noKek.change(new AdminApi.DkimChange(
                    new AdminApi.DkimGenerate("example.org", "ed25519", null), null, null), "test"));
            assertTrue(refused.getMessage().startsWith("no dkim.key-encryption-key-file set"), refused.getMessage());

            // neither state file holds the private key; the answers never do
            String pemBody = pemBody(key);
            for (String node : List.of("a", "b")) {
                Path file = dir.resolve(node).resolve("admin-state.json");
                await(() -> Files.exists(file) ? read(file) : "", s -> s.contains("\"e1\""));
                assertFalse(read(file).contains(pemBody.substring(0, 40)), node);
            }

            // a full restart: the keys come back from the files and sign again
            stores.forEach(AdminStateStore::close);
            stores.clear();
            cluster.restart();
            ClusterDkimKeys afterRestart = new ClusterDkimKeys(DkimKeyVault.fromFile(kekB));
            store(cluster.a(), dir.resolve("a"), s -> { });
            store(cluster.b(), dir.resolve("b"), afterRestart::apply);
            await(() -> afterRestart.active("example.com"), k -> !k.isEmpty());
            Files.write(signed, signed(afterRestart.active("example.com").get(0)));
            assertEquals(List.of("pass"), Verifiers.python(dir, List.of(ed.record()), List.of(signed)));
        }
    }

    private static Path private600(Path f) throws java.io.IOException {
        return Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    private static byte[] signed(DkimKey key) throws Exception {
        byte[] m = MESSAGE.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new DkimSigner(List.of(key), Clock.systemUTC()).sign(new ByteArrayInputStream(m)).bytes());
        out.write(m);
        return out.toByteArray();
    }

    private static String pemBody(DkimKey key) {
        return io.relay.node.dkim.DkimKeyPem.write(key).replaceAll("-----[A-Z ]+-----", "").replace("\n", "");
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private static <T> T await(Supplier<T> read, java.util.function.Predicate<T> done) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        T v = read.get();
        while (!done.test(v)) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within 20 s: " + v);
            }
            Thread.sleep(50);
            v = read.get();
        }
        return v;
    }
}
