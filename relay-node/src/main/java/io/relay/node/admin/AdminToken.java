package io.relay.node.admin;

import io.relay.node.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.Set;

/**
 * The admin API's bearer token, read once from {@code admin.token-file}. The file must not
 * be readable by group or others (the node refuses to start otherwise). Comparison is
 * constant-time: both sides are hashed with SHA-256 first, so neither length nor content
 * leaks through timing. The token itself is never printed ({@link #toString()} hides it).
 */
public final class AdminToken {
    private static final Set<PosixFilePermission> TOO_OPEN = EnumSet.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);

    private final byte[] digest;

    private AdminToken(byte[] digest) {
        this.digest = digest;
    }

    /** Reads and checks the file; every failure is one line naming the file and what to do. */
    public static AdminToken load(Path file) {
        Set<PosixFilePermission> perms;
        String text;
        try {
            perms = Files.getPosixFilePermissions(file);
            text = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ConfigException("admin.token-file " + file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException("admin.token-file " + file + ": cannot read (" + e.getClass().getSimpleName() + ")");
        } catch (UnsupportedOperationException e) {
            perms = Set.of(); // not a POSIX file system: nothing to check
            try {
                text = Files.readString(file, StandardCharsets.UTF_8).strip();
            } catch (IOException io) {
                throw new ConfigException("admin.token-file " + file + ": cannot read");
            }
        }
        if (perms.stream().anyMatch(TOO_OPEN::contains)) {
            throw new ConfigException("admin.token-file " + file + " is readable or writable by group or others;"
                    + " run: chmod 600 " + file);
        }
        if (text.length() < 16 || text.contains("\n")) {
            throw new ConfigException("admin.token-file " + file
                    + ": must hold one token of at least 16 characters (e.g. openssl rand -hex 32)");
        }
        return new AdminToken(sha256(text));
    }

    /** True when the Authorization header carries exactly this token as a Bearer credential. */
    public boolean admits(String authorization) {
        String presented = "";
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            presented = authorization.substring(7).strip();
        }
        // always compare, even an empty credential, so a missing token costs the same time
        return MessageDigest.isEqual(digest, sha256(presented)) && !presented.isEmpty();
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "AdminToken[hidden]";
    }
}
