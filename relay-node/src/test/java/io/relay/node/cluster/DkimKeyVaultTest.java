package io.relay.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.dkim.DkimAlgorithm;
import io.relay.node.dkim.DkimKey;
import io.relay.node.dkim.DkimKeyPem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sealed DKIM keys of the admin state: they round-trip through the state's JSON with no
 * trace of the private key in it, unseal only under the key-encryption key that sealed them
 * and only under their own domain and selector, and every refusal is one line without key bytes.
 */
class DkimKeyVaultTest {
    private static final byte[] KEK = "0123456789abcdef0123456789abcdef-node-file".getBytes();
    private static final byte[] OTHER = "fedcba9876543210fedcba9876543210-other-file".getBytes();

    private static AdminState.DkimKeyEntry entry(DkimKeyVault v, DkimKey k) {
        return new AdminState.DkimKeyEntry(k.algorithm().keyType(), 1L, 2L, null, k.publicKeyBase64(), v.seal(k),
                v.kekId());
    }

    /** The private key's bytes as they could leak: PEM body lines, the whole base64, and the PKCS#8 DER's tail. */
    static List<String> secretForms(DkimKey k) {
        String pem = DkimKeyPem.write(k);
        String body = pem.replaceAll("-----[A-Z ]+-----", "").replace("\n", "");
        byte[] der = Base64.getDecoder().decode(body);
        String tail = Base64.getEncoder().encodeToString(Arrays.copyOfRange(der, der.length - 24, der.length));
        return List.of(body, pem.lines().skip(1).findFirst().orElseThrow(), tail.substring(0, 20));
    }

    static Path private600(Path f) throws java.io.IOException {
        return Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    }

    @Test
    void aStateWithSealedKeysRoundTripsAndItsJsonHoldsNoPrivateKey() {
        DkimKeyVault v = DkimKeyVault.of(KEK);
        DkimKey rsa = DkimKey.generate("example.com", "r1", DkimAlgorithm.RSA_SHA256);
        DkimKey ed = DkimKey.generate("example.com", "e1", DkimAlgorithm.ED25519_SHA256);
        AdminState s = AdminState.EMPTY.withDkim(Map.of("example.com", new AdminState.DkimDomain("r1",
                Map.of("r1", entry(v, rsa), "e1", entry(v, ed))))).next(5);
        String json = s.toJson();
        AdminState back = AdminState.fromJson(json);
        assertEquals(s, back);
        assertEquals(AdminState.FORMAT, back.format());
        assertEquals("r1", back.dkim().get("example.com").active());
        for (DkimKey k : List.of(rsa, ed)) {
            for (String secret : secretForms(k)) {
                assertFalse(json.contains(secret), "private key bytes in the JSON");
                assertFalse(s.toString().contains(secret) || back.dkim().toString().contains(secret));
            }
            AdminState.DkimKeyEntry e = back.dkim().get("example.com").keys().get(k.selector());
            assertFalse(e.toString().contains(e.sealed()), e.toString());
            DkimKey opened = v.open("example.com", k.selector(), e);
            assertEquals(k.publicKeyBase64(), opened.publicKeyBase64());
            assertEquals(DkimKeyPem.write(k), DkimKeyPem.write(opened));
        }
        // a format-3 value (before DKIM) reads as one without keys
        AdminState old = AdminState.fromJson("{\"version\":4,\"updatedAt\":1,\"added\":[],\"removed\":[],\"format\":3}");
        assertTrue(old.dkim().isEmpty());
    }

    @Test
    void anotherKekADamagedEntryOrAnotherNameIsOneLineWithoutKeyBytes() {
        DkimKeyVault v = DkimKeyVault.of(KEK);
        DkimKey k = DkimKey.generate("example.com", "e1", DkimAlgorithm.ED25519_SHA256);
        AdminState.DkimKeyEntry e = entry(v, k);
        DkimKeyVault other = DkimKeyVault.of(OTHER);
        assertNotEquals(v.kekId(), other.kekId());
        List<String> problems = new java.util.ArrayList<>();
        problems.add(assertThrows(IllegalStateException.class, () -> other.open("example.com", "e1", e)).getMessage());
        // the same entry without the id (an older writer): the GCM tag says it
        AdminState.DkimKeyEntry noId = new AdminState.DkimKeyEntry(e.algorithm(), 1, 2L, null, e.publicKey(), e.sealed(),
                null);
        problems.add(assertThrows(IllegalStateException.class, () -> other.open("example.com", "e1", noId)).getMessage());
        // copied under another selector: the associated data does not match
        problems.add(assertThrows(IllegalStateException.class, () -> v.open("example.com", "e2", e)).getMessage());
        byte[] bytes = Base64.getDecoder().decode(e.sealed());
        bytes[20] ^= 1;
        AdminState.DkimKeyEntry damaged = new AdminState.DkimKeyEntry(e.algorithm(), 1, 2L, null, e.publicKey(),
                Base64.getEncoder().encodeToString(bytes), e.kekId());
        problems.add(assertThrows(IllegalStateException.class, () -> v.open("example.com", "e1", damaged)).getMessage());
        assertTrue(problems.get(0).contains("every node needs the same file"), problems.get(0));
        assertTrue(problems.get(1).contains("another dkim.key-encryption-key-file"), problems.get(1));
        for (String p : problems) {
            assertEquals(1, p.lines().count(), p);
            assertTrue(p.startsWith("DKIM key example.com/"), p);
            for (String secret : secretForms(k)) {
                assertFalse(p.contains(secret), p);
            }
        }
    }

    @Test
    void aShortOrMissingKekFileIsOneLineNamingTheSetting(@TempDir Path dir) throws Exception {
        Path open = Files.write(dir.resolve("open"), KEK);
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals("dkim.key-encryption-key-file " + open + ": readable by group or others; chmod 600 it",
                assertThrows(IllegalArgumentException.class, () -> DkimKeyVault.fromFile(open)).getMessage());
        Path shortFile = private600(Files.write(dir.resolve("kek"), new byte[16]));
        var e = assertThrows(IllegalArgumentException.class, () -> DkimKeyVault.fromFile(shortFile));
        assertEquals("dkim.key-encryption-key-file " + shortFile + ": 16 bytes, needs 32 or more random bytes",
                e.getMessage());
        var m = assertThrows(IllegalArgumentException.class, () -> DkimKeyVault.fromFile(dir.resolve("none")));
        assertTrue(m.getMessage().startsWith("dkim.key-encryption-key-file "), m.getMessage());
        Path good = private600(Files.write(dir.resolve("good"), KEK));
        assertEquals(DkimKeyVault.of(KEK).kekId(), DkimKeyVault.fromFile(good).kekId());
        // the view of a node without a file: the active key's domain does not sign, and says why
        DkimKey k = DkimKey.generate("example.org", "e1", DkimAlgorithm.ED25519_SHA256);
        AdminState s = AdminState.EMPTY.withDkim(Map.of("example.org", new AdminState.DkimDomain("e1",
                Map.of("e1", entry(DkimKeyVault.of(KEK), k))))).next(1);
        ClusterDkimKeys none = new ClusterDkimKeys(null);
        none.apply(s);
        assertTrue(none.active("example.org").isEmpty());
        assertTrue(none.problem("example.org").orElseThrow().contains("dkim.key-encryption-key-file"));
        ClusterDkimKeys same = new ClusterDkimKeys(DkimKeyVault.of(KEK));
        same.apply(s);
        assertEquals(k.publicKeyBase64(), same.active("example.org").get(0).publicKeyBase64());
        DkimKey first = same.active("example.org").get(0);
        same.apply(s.next(2));
        assertTrue(first == same.active("example.org").get(0), "unsealed again for an unchanged key");
    }
}
