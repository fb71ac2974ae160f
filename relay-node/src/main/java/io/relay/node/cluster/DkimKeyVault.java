package io.relay.node.cluster;

import io.relay.node.dkim.DkimKey;
import io.relay.node.dkim.DkimKeyPem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.HKDFParameters;

/**
 * Seals and unseals the DKIM private keys the cluster's admin state holds
 * ({@link AdminState.DkimKeyEntry#sealed()}).
 *
 * <p>What it protects against: Hazelcast open source has no TLS between members, and the
 * admin state travels between them and rests in each node's {@code admin-state.json}; so a
 * private key is there only as AES-256-GCM ciphertext under a key-encryption key (KEK) that
 * never travels. Someone who reads the member traffic, a copy of the state file or a backup
 * of the spool gets no signing key. Someone who reads a node's KEK file and the state gets
 * both: the KEK file is the secret to protect (mode 0600, like the admin token). The GCM's
 * associated data binds each sealed key to its domain, selector and algorithm, so an entry
 * copied under another name does not unseal.
 *
 * <p>Strategy: the KEK is derived by HKDF-SHA256 (Bouncy Castle) from the file
 * {@code dkim.key-encryption-key-file} (32 or more random bytes, the same file on every
 * node, mode 0600, distributed as the operator distributes the admin token); a second HKDF output gives
 * a short id of it, stored beside each sealed key, so a node with another file says so in one
 * line instead of a bare decryption failure. Without the file there is no vault: generating
 * a key is refused with one line naming the setting (safe by default), and no message names
 * key bytes.
 */
public final class DkimKeyVault {
    /** The one line that says a KEK file is needed, and which setting gives it. */
    public static String noKek() {
        return NO_KEK;
    }

    /** Below this a file is not a key: 256 bits, the AES key's size. */
    static final int MIN_KEK_BYTES = 32;
    private static final byte[] SALT = "relay-dkim-kek-v1".getBytes(StandardCharsets.US_ASCII);
    private static final int NONCE = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();
    static final String NO_KEK = "no dkim.key-encryption-key-file set: set it on every node "
            + "(the same file of 32 or more random bytes, e.g. head -c 32 /dev/urandom) to keep DKIM keys in the cluster";

    private final SecretKeySpec kek;
    private final String kekId;

    private DkimKeyVault(byte[] material) {
        this.kek = new SecretKeySpec(hkdf(material, "aes-256-gcm key"), "AES");
        this.kekId = HexFormat.of().formatHex(Arrays.copyOf(hkdf(material, "key id"), 6));
    }

    /** The vault of {@code file}; IllegalArgumentException naming the file and the problem (never its bytes). */
    public static DkimKeyVault fromFile(Path file) {
        byte[] material;
        try {
            if (Files.getFileStore(file).supportsFileAttributeView("posix")) {
                var perms = Files.getPosixFilePermissions(file);
                if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
                    throw new IllegalArgumentException("dkim.key-encryption-key-file " + file
                            + ": readable by group or others; chmod 600 it");
                }
            }
            material = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("dkim.key-encryption-key-file " + file + ": cannot read ("
                    + e.getClass().getSimpleName() + ")");
        }
        if (material.length < MIN_KEK_BYTES) {
            throw new IllegalArgumentException("dkim.key-encryption-key-file " + file + ": " + material.length
                    + " bytes, needs " + MIN_KEK_BYTES + " or more random bytes");
        }
        return new DkimKeyVault(material);
    }

    /** The vault of these bytes (tests). */
    static DkimKeyVault of(byte[] material) {
        return new DkimKeyVault(material);
    }

    /** Names this vault's KEK without telling anything about it. */
    public String kekId() {
        return kekId;
    }

    /** {@code key}'s private key sealed: base64 of nonce, ciphertext and tag. */
    public String seal(DkimKey key) {
        byte[] plain = DkimKeyPem.write(key).getBytes(StandardCharsets.US_ASCII);
        try {
            byte[] nonce = new byte[NONCE];
            RANDOM.nextBytes(nonce);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, kek, new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(aad(key.domain(), key.selector(), key.algorithm().keyType()));
            byte[] ct = c.doFinal(plain);
            byte[] out = new byte[NONCE + ct.length];
            System.arraycopy(nonce, 0, out, 0, NONCE);
            System.arraycopy(ct, 0, out, NONCE, ct.length);
            return Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot seal DKIM key " + key.recordName() + " (" + e.getClass().getSimpleName()
                    + ")");
        } finally {
            Arrays.fill(plain, (byte) 0);
        }
    }

    /**
     * The key of {@code entry}; IllegalStateException with one line naming the key and the
     * problem (another KEK, a damaged or retired entry), never key bytes.
     */
    public DkimKey open(String domain, String selector, AdminState.DkimKeyEntry entry) {
        String name = "DKIM key " + domain + "/" + selector;
        if (entry.sealed() == null) {
            throw new IllegalStateException(name + " is retired (its private key is gone)");
        }
        if (entry.kekId() != null && !entry.kekId().equals(kekId)) {
            throw new IllegalStateException(name + " was sealed with key-encryption key " + entry.kekId()
                    + ", this node's dkim.key-encryption-key-file gives " + kekId
                    + ": every node needs the same file");
        }
        byte[] plain = null;
        try {
            byte[] in = Base64.getDecoder().decode(entry.sealed());
            if (in.length <= NONCE) {
                throw new IllegalStateException(name + ": sealed key too short (damaged entry)");
            }
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, kek, new GCMParameterSpec(TAG_BITS, in, 0, NONCE));
            c.updateAAD(aad(domain, selector, entry.algorithm()));
            plain = c.doFinal(in, NONCE, in.length - NONCE);
            DkimKey key = DkimKeyPem.read(new String(plain, StandardCharsets.US_ASCII), domain, selector);
            if (!key.algorithm().keyType().equals(entry.algorithm())
                    || !key.publicKeyBase64().equals(entry.publicKey())) {
                throw new IllegalStateException(name + ": the sealed key does not match its public key (damaged entry)");
            }
            return key;
        } catch (AEADBadTagException e) {
            throw new IllegalStateException(name + " does not unseal: another dkim.key-encryption-key-file than the one"
                    + " that sealed it, or a damaged entry");
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalStateException(name + " does not unseal (damaged entry: " + e.getClass().getSimpleName() + ")");
        } finally {
            if (plain != null) {
                Arrays.fill(plain, (byte) 0);
            }
        }
    }

    private static byte[] aad(String domain, String selector, String keyType) {
        return ("relay-dkim:" + domain + "/" + selector + "/" + keyType).getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] hkdf(byte[] material, String info) {
        HKDFBytesGenerator g = new HKDFBytesGenerator(new SHA256Digest());
        g.init(new HKDFParameters(material, SALT, info.getBytes(StandardCharsets.US_ASCII)));
        byte[] out = new byte[32];
        g.generateBytes(out, 0, out.length);
        return out;
    }

    @Override
    public String toString() {
        return "DkimKeyVault[kek " + kekId + "]";
    }
}
