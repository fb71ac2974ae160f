package io.relay.node.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Optional;
import java.util.Set;

/**
 * The permission check on files that hold secrets (SASL password files, the admin token):
 * Postfix's documentation asks for mode 0600; a file that group or others can read is a
 * credential leak waiting to happen, so the node says so at start.
 */
public final class CredentialFiles {
    private static final Set<PosixFilePermission> OPEN = Set.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);

    private CredentialFiles() {
    }

    /** A warning text when {@code file} is readable or writable by group or others; empty otherwise. */
    public static Optional<String> exposure(Path file) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            if (perms.stream().anyMatch(OPEN::contains)) {
                return Optional.of(file + " is readable by group or others (mode "
                        + java.nio.file.attribute.PosixFilePermissions.toString(perms)
                        + "); it holds credentials: chmod 600 " + file);
            }
            return Optional.empty();
        } catch (UnsupportedOperationException | IOException e) {
            return Optional.empty();
        }
    }
}
