package io.relay.node.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PasswordHashTest {

    @Test
    void anArgon2idHashChecksItsOwnPasswordOnlyAndIsSaltedEachTime() {
        String h = PasswordHash.hash("correct horse");
        assertTrue(h.startsWith("$argon2id$v=19$m=19456,t=2,p=1$"), h);
        assertTrue(PasswordHash.isHash(h));
        assertTrue(PasswordHash.verify("correct horse", h));
        assertFalse(PasswordHash.verify("correct horsf", h));
        assertFalse(PasswordHash.verify("", h));
        assertNotEquals(h, PasswordHash.hash("correct horse"));
    }

    @Test
    void malformedHashesMatchNothing() {
        assertFalse(PasswordHash.isHash("secret"));
        assertFalse(PasswordHash.verify("secret", "secret"));
        assertFalse(PasswordHash.verify("x", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA"));
        assertFalse(PasswordHash.verify("x", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"));
        assertFalse(PasswordHash.verify(null, PasswordHash.hash("x")));
    }

    /** An independent verifier: libsodium (python3-nacl) checks the PHC string we write. */
    @Test
    void libsodiumAcceptsOurArgon2idHash(@TempDir Path dir) throws Exception {
        Tools.require(Tools.PYTHON3);
        String h = PasswordHash.hash("pässword 1");
        Path script = dir.resolve("v.py");
        Files.writeString(script, String.join("\n",
                "import sys",
                "try:",
                "    import nacl.pwhash",
                "except ImportError:",
                "    print('python3-nacl missing'); sys.exit(3)",
                "h = open(sys.argv[1], 'rb').read().strip()",
                "try:",
                "    nacl.pwhash.argon2id.verify(h, 'pässword 1'.encode())",
                "    print('ok')",
                "except Exception as e:",
                "    print('bad', e)",
                "try:",
                "    nacl.pwhash.argon2id.verify(h, b'password 1'); print('wrong accepted')",
                "except Exception:",
                "    print('wrong refused')", ""));
        Path hash = dir.resolve("h");
        Files.writeString(hash, h);
        Tools.Run r = Tools.run(Duration.ofSeconds(30), Tools.PYTHON3, script.toString(), hash.toString());
        if (r.exit() == 3) {
            Tools.require("/usr/lib/python3/dist-packages/nacl/pwhash/__init__.py");
        }
        assertEquals("ok\nwrong refused\n", r.output());
    }

    /** bcrypt as Apache's htpasswd writes it, so an operator's existing file can seed the users. */
    @Test
    void htpasswdBcryptHashesAreRead() throws Exception {
        Tools.require(Tools.HTPASSWD);
        Tools.Run r = Tools.run(Duration.ofSeconds(30), Tools.HTPASSWD, "-nbB", "-C", "5", "lambda", "s3cret pass");
        String line = r.output().strip();
        assertTrue(line.startsWith("lambda:$2y$05$"), line);
        String hash = line.substring("lambda:".length());
        assertTrue(PasswordHash.isHash(hash));
        assertTrue(PasswordHash.verify("s3cret pass", hash));
        assertFalse(PasswordHash.verify("s3cret pas", hash));
    }

    @Test
    void theUsersFileReadsNamesHashesSendersAndRatesAndNamesABadLine(@TempDir Path dir) throws Exception {
        String h = PasswordHash.hash("pw");
        Path f = dir.resolve("users");
        Files.writeString(f, "# first users\n\nwebapp:" + h + ":@Example.com, noreply@example.org:100/m,10000/d\n"
                + "lambda:" + h + "\n", StandardCharsets.UTF_8);
        var users = UsersFile.read(f);
        assertEquals(2, users.size());
        UsersFile.Entry w = users.get("webapp");
        assertEquals(java.util.List.of("@Example.com", "noreply@example.org"), w.senders());
        assertEquals(java.util.List.of("100/m", "10000/d"), w.rates());
        assertFalse(w.toString().contains(h), "an entry's text never shows the hash");
        assertTrue(users.get("lambda").senders().isEmpty());

        Files.writeString(f, "ok:" + h + "\nbad:secret\n");
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> UsersFile.read(f));
        assertEquals(f + " line 2: user bad: the password must be an Argon2id or bcrypt hash (make one with: relay-node hash-password)",
                e.getMessage());
        assertFalse(e.getMessage().contains("secret"));
        Files.writeString(f, "a:" + h + ":not-an-address\n");
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> UsersFile.read(f))
                .getMessage().contains("line 1: user a: bad sender not-an-address"));
        Files.writeString(f, "a:" + h + "::5/fortnight\n");
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> UsersFile.read(f))
                .getMessage().contains("line 1: user a: rate '5/fortnight'"));
        Files.writeString(f, "a:" + h + "\na:" + h + "\n");
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> UsersFile.read(f))
                .getMessage().endsWith("line 2: user a appears twice"));
    }

    @Test
    void aUserBoundToSendersMaySendOnlyAsThem() {
        SaslUser u = new SaslUser("webapp", java.util.List.of("@Example.com", "noreply@example.org"), null);
        assertTrue(u.maySend("anyone@example.COM"));
        assertTrue(u.maySend("noreply@EXAMPLE.org"));
        assertFalse(u.maySend("NoReply@example.org"), "the local part is the owner's, compared exactly");
        assertFalse(u.maySend("ceo@example.net"));
        assertFalse(u.maySend("x@sub.example.com"));
        assertFalse(u.maySend(""), "the null sender is the relay's");
        assertTrue(new SaslUser("any", null, null).maySend(""));
    }
}
