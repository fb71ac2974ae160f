package io.relay.node.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminTokenTest {
    private static final String SECRET = "s3cret-token-0123456789";

    @Test
    void admitsOnlyTheBearerToken(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("token"), SECRET + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        AdminToken t = AdminToken.load(f);
        assertTrue(t.admits("Bearer " + SECRET));
        assertTrue(t.admits("bearer " + SECRET));
        assertFalse(t.admits(null));
        assertFalse(t.admits(""));
        assertFalse(t.admits("Bearer "));
        assertFalse(t.admits(SECRET));
        assertFalse(t.admits("Bearer " + SECRET + "x"));
        assertFalse(t.admits("Basic " + SECRET));
        assertFalse(t.toString().contains(SECRET));
    }

    @Test
    void refusesAFileOthersCanRead(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("token"), SECRET);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        ConfigException e = assertThrows(ConfigException.class, () -> AdminToken.load(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("chmod 600"), e.getMessage());
        assertFalse(e.getMessage().contains(SECRET));
        assertEquals(1, e.getMessage().lines().count());
    }
}
