package io.relay.node.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Salted slow password hashes in their usual string forms: Argon2id (RFC 9106) in the PHC
 * form {@code $argon2id$v=19$m=19456,t=2,p=1$salt$hash}, which this class writes, and bcrypt
 * ({@code $2a$}, {@code $2b$}, {@code $2y$}, e.g. from {@code htpasswd -nB}), which it
 * also reads. Both come from Bouncy Castle, already on the class path for the TLS
 * certificates.
 *
 * <p>Why these parameters: OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane) costs
 * tens of milliseconds per check here, slow enough against a stolen table and cheap enough
 * for an AUTH per connection. A hash written with other parameters keeps its own.
 */
public final class PasswordHash {
    static final int MEMORY_KIB = 19 * 1024;
    static final int ITERATIONS = 2;
    static final int PARALLELISM = 1;
    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;
    private static final Pattern ARGON2ID =
            Pattern.compile("\\$argon2id\\$v=19\\$m=(\\d{1,7}),t=(\\d{1,3}),p=(\\d{1,2})\\$([A-Za-z0-9+/]+)\\$([A-Za-z0-9+/]+)");
    private static final Pattern BCRYPT = Pattern.compile("\\$2[aby]\\$\\d\\d\\$[./A-Za-z0-9]{53}");
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getDecoder();

    private PasswordHash() {
    }

    /** A new Argon2id hash of {@code password} with a random salt. */
    public static String hash(String password) {
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        byte[] out = argon2id(password, salt, MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES);
        return "$argon2id$v=19$m=" + MEMORY_KIB + ",t=" + ITERATIONS + ",p=" + PARALLELISM + "$"
                + B64.encodeToString(salt) + "$" + B64.encodeToString(out);
    }

    /** Whether {@code encoded} is a hash this class can check (it says nothing about any password). */
    public static boolean isHash(String encoded) {
        return encoded != null && (ARGON2ID.matcher(encoded).matches() || BCRYPT.matcher(encoded).matches());
    }

    /** Whether {@code password} matches {@code encoded}; false for a malformed hash. Compares in constant time. */
    public static boolean verify(String password, String encoded) {
        if (password == null || encoded == null) {
            return false;
        }
        Matcher m = ARGON2ID.matcher(encoded);
        if (m.matches()) {
            int memory = Integer.parseInt(m.group(1));
            int iterations = Integer.parseInt(m.group(2));
            int lanes = Integer.parseInt(m.group(3));
            if (memory < 8 * lanes || memory > 4 * 1024 * 1024 || iterations < 1 || lanes < 1) {
                return false;
            }
            byte[] salt;
            byte[] expected;
            try {
                salt = B64D.decode(m.group(4));
                expected = B64D.decode(m.group(5));
            } catch (IllegalArgumentException e) {
                return false;
            }
            if (expected.length < 16 || expected.length > 64) {
                return false;
            }
            byte[] actual = argon2id(password, salt, memory, iterations, lanes, expected.length);
            return MessageDigest.isEqual(expected, actual);
        }
        if (BCRYPT.matcher(encoded).matches()) {
            try {
                return OpenBSDBCrypt.checkPassword(encoded, password.toCharArray());
            } catch (IllegalArgumentException e) {
                return false;
            }
        }
        return false;
    }

    private static byte[] argon2id(String password, byte[] salt, int memoryKib, int iterations, int lanes, int length) {
        Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(memoryKib)
                .withIterations(iterations)
                .withParallelism(lanes)
                .withSalt(salt)
                .build();
        Argon2BytesGenerator generator = new Argon2BytesGenerator();
        generator.init(params);
        byte[] out = new byte[length];
        generator.generateBytes(password.getBytes(StandardCharsets.UTF_8), out);
        return out;
    }
}
