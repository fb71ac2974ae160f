package io.relay.node.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bootstrap file's users: the right password gives the user with its senders and rates, nothing else does. */
class StaticSaslUsersTest {
    @Test
    void checksTheFilesHashesAndKnowsNoOneElse(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "# bootstrap\nwebapp:" + PasswordHash.hash("pw-1") + ":@web.example:10/m\n"
                + "lambda:" + PasswordHash.hash("pw-2") + "\n");
        StaticSaslUsers users = StaticSaslUsers.from(file);
        assertEquals(2, users.size());
        SaslUser webapp = users.authenticate("webapp", "pw-1").orElseThrow();
        assertEquals(new SaslUser("webapp", List.of("@web.example"), List.of("10/m")), webapp);
        assertEquals("lambda", users.authenticate("lambda", "pw-2").orElseThrow().name());
        assertTrue(users.authenticate("webapp", "pw-2").isEmpty(), "another user's password");
        assertTrue(users.authenticate("Webapp", "pw-1").isEmpty(), "names are exact");
        assertTrue(users.authenticate("nobody", "pw-1").isEmpty(), "unknown name (checked against the dummy hash)");
        assertTrue(users.authenticate("", "").isEmpty());
        assertTrue(users.authenticate(null, null).isEmpty());
        assertEquals(0, StaticSaslUsers.from(null).size());
    }
}
