package io.relay.node.auth;

import io.relay.routing.RateLimit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The bootstrap users file ({@code smtpd.sasl-users-file}): the first SASL users, before
 * anyone ran {@code relayctl users add}. One user per line, in the spirit of Dovecot's
 * passwd-file and {@code htpasswd}:
 *
 * <pre>
 * # NAME:HASH[:SENDERS[:RATES]]
 * webapp:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$...:@example.com,noreply@example.org:100/m,10000/d
 * lambda:$2y$05$...                   (from htpasswd -nB lambda: any sender, no rate)
 * </pre>
 *
 * HASH is an Argon2id or bcrypt hash ({@link PasswordHash}; {@code relay-node hash-password}
 * makes one), never a clear password. SENDERS and RATES are comma-separated; empty means
 * any sender and no rate. {@code #} starts a comment line. A bad line is a one-line
 * problem naming the file and line, without the hash.
 */
public final class UsersFile {
    /** One line of the file. */
    public record Entry(String name, String hash, List<String> senders, List<String> rates) {
        public SaslUser user() {
            return new SaslUser(name, senders, rates);
        }

        @Override
        public String toString() {
            return "Entry[name=" + name + ", senders=" + senders + ", rates=" + rates + "]";
        }
    }

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}");
    private static final Pattern SENDER = Pattern.compile("(@[^@\\s,:]+|[^@\\s,:]+@[^@\\s,:]+)");

    private UsersFile() {
    }

    /** The entries of {@code file}, by name in file order; a second line for the same name is a problem. */
    public static Map<String, Entry> read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        Map<String, Entry> out = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = file + " line " + (i + 1) + ": ";
            Entry e = parse(line, where);
            if (out.putIfAbsent(e.name(), e) != null) {
                throw new IllegalArgumentException(where + "user " + e.name() + " appears twice");
            }
        }
        return out;
    }

    static Entry parse(String line, String where) {
        String[] f = line.split(":", -1);
        if (f.length < 2 || f.length > 4) {
            throw new IllegalArgumentException(where + "expected NAME:HASH[:SENDERS[:RATES]]");
        }
        String name = f[0].strip();
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(where + "bad user name (letters, digits, . _ @ + -, at most 128)");
        }
        String hash = f[1].strip();
        if (!PasswordHash.isHash(hash)) {
            throw new IllegalArgumentException(where + "user " + name
                    + ": the password must be an Argon2id or bcrypt hash (make one with: relay-node hash-password)");
        }
        List<String> senders = list(f.length > 2 ? f[2] : "");
        for (String s : senders) {
            if (!SENDER.matcher(s).matches()) {
                throw new IllegalArgumentException(where + "user " + name + ": bad sender " + s
                        + " (an address or @domain)");
            }
        }
        List<String> rates = list(f.length > 3 ? f[3] : "");
        for (String r : rates) {
            try {
                RateLimit.parse(r);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + "user " + name + ": " + e.getMessage());
            }
        }
        return new Entry(name, hash, senders, rates);
    }

    private static List<String> list(String field) {
        List<String> out = new ArrayList<>();
        Arrays.stream(field.split(",")).map(String::strip).filter(s -> !s.isEmpty()).forEach(out::add);
        return List.copyOf(out);
    }
}
