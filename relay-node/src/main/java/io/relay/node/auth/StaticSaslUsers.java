package io.relay.node.auth;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The users of the bootstrap file ({@code smtpd.sasl-users-file}, {@link UsersFile}), read
 * once at start: the node's users until the cluster's users table takes over.
 *
 * <p>Why a dummy hash: an unknown name is checked against a hash of a random password made
 * with the same parameters, so the time an AUTH takes does not tell which names exist.
 */
public final class StaticSaslUsers implements SaslUsers {
    private final Map<String, UsersFile.Entry> users;
    private final String dummy = PasswordHash.hash(UUID.randomUUID().toString());

    public StaticSaslUsers(Map<String, UsersFile.Entry> users) {
        this.users = Map.copyOf(users);
    }

    /** The users of {@code file}, or none when it is null. */
    public static StaticSaslUsers from(Path file) throws IOException {
        return new StaticSaslUsers(file == null ? Map.of() : UsersFile.read(file));
    }

    @Override
    public Optional<SaslUser> authenticate(String name, String password) {
        UsersFile.Entry e = name == null ? null : users.get(name);
        boolean matches = PasswordHash.verify(password, e != null ? e.hash() : dummy);
        return e != null && matches ? Optional.of(e.user()) : Optional.empty();
    }

    /** How many users the file gave. */
    public int size() {
        return users.size();
    }
}
