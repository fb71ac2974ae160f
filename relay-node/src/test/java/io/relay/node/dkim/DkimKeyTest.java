package io.relay.node.dkim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.Tools;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Keys from the files other tools write, the record we print for them, and broken files named in one line. */
class DkimKeyTest {

    @Test
    void anOpendkimGenkeyKeyLoadsAsWrittenAndAsPkcs1PublishesTheSameRecordAndSigns(@TempDir Path dir) throws Exception {
        Tools.require(Tools.OPENDKIM_GENKEY, Tools.OPENSSL);
        Tools.Run g = Tools.run(Duration.ofSeconds(60), Tools.OPENDKIM_GENKEY, "-D", dir.toString(),
                "-d", "example.com", "-s", "gen");
        assertEquals(0, g.exit(), g.output());
        Path written = dir.resolve("gen.private");
        // opendkim-genkey writes PKCS#1 when built on OpenSSL 1.x and PKCS#8 on 3.x: read both
        Path pkcs1 = dir.resolve("gen.pkcs1");
        Tools.Run t = Tools.run(Duration.ofSeconds(30), Tools.OPENSSL, "rsa", "-in", written.toString(),
                "-traditional", "-out", pkcs1.toString());
        assertEquals(0, t.exit(), t.output());
        assertTrue(Files.readString(pkcs1).startsWith("-----BEGIN RSA PRIVATE KEY-----"));

        String theirText = Verifiers.txtOf(Files.readString(dir.resolve("gen.txt")));
        String theirP = theirText.substring(theirText.indexOf("p=") + 2).strip();
        String theirZoneLine = "gen._domainkey.example.com. IN TXT \"" + theirText + "\"";
        byte[] message = Messages.corpus().get("plain");
        List<Path> signed = new java.util.ArrayList<>();
        for (Path file : List.of(written, pkcs1)) {
            DkimKey k = DkimKeyPem.read(file, "example.com", "gen");
            assertEquals(DkimAlgorithm.RSA_SHA256, k.algorithm());
            assertEquals(2048, k.bits());
            assertEquals(theirP, k.publicKeyBase64(), "our p= is opendkim-genkey's");
            DkimSigner s = new DkimSigner(List.of(k), Clock.systemUTC());
            signed.add(Verifiers.write(dir, file.getFileName() + ".eml", DkimSignerTest.signed(s, message)));
        }
        // verified against the record opendkim-genkey printed, not ours
        assertEquals(List.of("pass", "pass"), Verifiers.python(dir, List.of(theirZoneLine), signed));
    }

    @Test
    void ourPublicKeysAreWhatOpensslDerivesFromThePrivateOnes(@TempDir Path dir) throws Exception {
        Tools.require(Tools.OPENSSL);
        for (DkimAlgorithm a : DkimAlgorithm.values()) {
            DkimKey k = DkimKey.generate("example.com", "s1", a);
            Path pem = dir.resolve(a + ".pem");
            Files.writeString(pem, DkimKeyPem.write(k));
            Path der = dir.resolve(a + ".pub.der");
            Tools.Run r = Tools.run(Duration.ofSeconds(30), Tools.OPENSSL, "pkey", "-in", pem.toString(), "-pubout",
                    "-outform", "DER", "-out", der.toString());
            assertEquals(0, r.exit(), r.output());
            byte[] spki = Files.readAllBytes(der);
            // RSA publishes the SubjectPublicKeyInfo; Ed25519 only the raw 32-byte key at its end (RFC 8463)
            byte[] expected = a == DkimAlgorithm.RSA_SHA256 ? spki : Arrays.copyOfRange(spki, spki.length - 32, spki.length);
            assertEquals(Base64.getEncoder().encodeToString(expected), k.publicKeyBase64(), a.toString());
            assertEquals(k.publicKeyBase64(), DkimKeyPem.read(pem, "example.com", "s1").publicKeyBase64(),
                    "what we write reads back");
        }
    }

    @Test
    void theRecordIsOneZoneLineWithStringsOfAtMost255Bytes() {
        DkimKey rsa = DkimKey.generate("Example.COM.", "s2026", DkimAlgorithm.RSA_SHA256);
        String line = DkimDnsRecord.zoneLine(rsa);
        assertTrue(line.matches("s2026\\._domainkey\\.example\\.com\\. IN TXT( \"[^\"]{1,255}\")+"), line);
        assertFalse(line.contains("\n"));
        List<String> strings = DkimDnsRecord.strings(rsa);
        assertEquals(2, strings.size(), "an RSA-2048 record is about 410 bytes");
        assertEquals("v=DKIM1; k=rsa; p=" + rsa.publicKeyBase64(), Verifiers.txtOf(line));

        DkimKey ed = DkimKey.generate("example.com", "ed", DkimAlgorithm.ED25519_SHA256);
        String edLine = DkimDnsRecord.zoneLine(ed);
        assertEquals("ed._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p=" + ed.publicKeyBase64() + "\"", edLine);
        assertEquals(32, Base64.getDecoder().decode(ed.publicKeyBase64()).length);
    }

    @Test
    void aKeyNeverShowsItsPrivateHalf() throws Exception {
        for (DkimAlgorithm a : DkimAlgorithm.values()) {
            DkimKey k = DkimKey.generate("example.com", "s1", a);
            String pem = DkimKeyPem.write(k);
            String secret = pem.lines().filter(l -> !l.startsWith("-----")).reduce("", String::concat);
            String tail = secret.substring(secret.length() - 24);
            String shown = k + " " + new DkimSigner(List.of(k), Clock.systemUTC()) + " "
                    + new DkimSigner(List.of(k), Clock.systemUTC()).sign(new ByteArrayInputStream(Messages.corpus().get("plain")));
            assertFalse(shown.contains(tail), shown);
            assertEquals("DkimKey[s1._domainkey.example.com, " + a.tag() + ", " + k.bits() + " bits]", k.toString());
        }
    }

    @Test
    void aBrokenKeyFileIsOneLineNamingTheFileAndTheProblemWithoutTheKey(@TempDir Path dir) throws Exception {
        Tools.require(Tools.OPENSSL);
        String good = DkimKeyPem.write(DkimKey.generate("example.com", "s", DkimAlgorithm.RSA_SHA256));
        List<String> body = good.lines().filter(l -> !l.startsWith("-----")).toList();
        Path f = dir.resolve("k.pem");

        assertEquals("DKIM key " + dir.resolve("missing.pem") + ": no such file",
                problem(dir.resolve("missing.pem")));
        Files.writeString(f, "");
        assertEquals("DKIM key " + f + ": no PEM private key in the file (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)",
                problem(f));
        // a line dropped from the middle: the DER inside is cut
        List<String> cut = new java.util.ArrayList<>(good.lines().toList());
        cut.remove(5);
        Files.write(f, cut);
        String p = problem(f);
        assertTrue(p.startsWith("DKIM key " + f + ": "), p);
        for (String l : body) {
            assertFalse(p.contains(l.substring(0, 16)), "the message shows key bytes: " + p);
        }
        Files.writeString(f, "-----BEGIN PRIVATE KEY-----\n@@@not base64@@@\n-----END PRIVATE KEY-----\n");
        assertEquals("DKIM key " + f + ": not a readable PEM key (bad base64 or DER inside the BEGIN/END lines)", problem(f));

        Path enc = dir.resolve("enc.pem");
        assertEquals(0, Tools.run(Duration.ofSeconds(30), Tools.OPENSSL, "genpkey", "-algorithm", "ed25519",
                "-aes-256-cbc", "-pass", "pass:secret", "-out", enc.toString()).exit());
        assertTrue(problem(enc).startsWith("DKIM key " + enc + ": the key is encrypted with a passphrase"), problem(enc));
        Path ec = dir.resolve("ec.pem");
        assertEquals(0, Tools.run(Duration.ofSeconds(30), Tools.OPENSSL, "genpkey", "-algorithm", "EC",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec.toString()).exit());
        assertEquals("DKIM key " + ec + ": a key of type 1.2.840.10045.2.1 cannot sign DKIM (RSA or Ed25519)", problem(ec));
        Path small = dir.resolve("small.pem");
        assertEquals(0, Tools.run(Duration.ofSeconds(30), Tools.OPENSSL, "genrsa", "-traditional", "-out",
                small.toString(), "512").exit());
        assertEquals("DKIM key " + small + ": RSA key of 512 bits; DKIM needs at least 1024 (RFC 8301), 2048 recommended",
                problem(small));
        Path cert = dir.resolve("cert.pem");
        assertEquals(0, Tools.run(Duration.ofSeconds(30), Tools.OPENSSL, "req", "-x509", "-newkey", "ed25519",
                "-nodes", "-keyout", dir.resolve("junk.key").toString(), "-subj", "/CN=x", "-out", cert.toString()).exit());
        assertEquals("DKIM key " + cert + ": not a private key (found X509CertificateHolder)", problem(cert));

        assertEquals("bad DKIM selector 'a b' (letters, digits, hyphens, dots)",
                assertThrows(IllegalArgumentException.class, () -> DkimKey.generate("example.com", "a b",
                        DkimAlgorithm.ED25519_SHA256)).getMessage());
    }

    private static String problem(Path file) {
        String m = assertThrows(IllegalArgumentException.class, () -> DkimKeyPem.read(file, "example.com", "s"))
                .getMessage();
        assertFalse(m.contains("\n"), m);
        return m;
    }
}
