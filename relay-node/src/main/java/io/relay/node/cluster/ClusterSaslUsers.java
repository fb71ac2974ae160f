package io.relay.node.cluster;

import io.relay.node.auth.PasswordHash;
import io.relay.node.auth.SaslUser;
import io.relay.node.auth.SaslUsers;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The SMTP AUTH users of the cluster's users table ({@link AdminState#users()}) as the
 * sessions check them: name and password to a {@link SaslUser}.
 *
 * <p>Strategy: an immutable copy of the table behind a volatile reference, swapped by
 * {@link #apply} on every state the {@link AdminStateStore} takes (on every node, usually
 * within milliseconds of the change), so a check makes no cluster call. Verifying is the
 * slow salted hash of {@link PasswordHash}; an unknown name is verified against a dummy
 * hash of the same cost, so how long a failure takes does not tell which names exist.
 * Callers run it off the event loop.
 */
public final class ClusterSaslUsers implements SaslUsers {
    /**
     * Made at the first check, not at the node's start: a first Argon2id hash in a cold JVM
     * takes seconds, which would delay the listeners. Same parameters as every new hash;
     * matches no password anyone can send.
     */
    private static final class Dummy {
        static final String HASH = PasswordHash.hash(UUID.randomUUID() + "-" + UUID.randomUUID());
    }

    private volatile Map<String, AdminState.User> users = Map.of();

    /** Takes {@code s}'s users table; for {@code AdminStateStore}'s state consumer. */
    public void apply(AdminState s) {
        users = s.users();
    }

    @Override
    public Optional<SaslUser> authenticate(String name, String password) {
        AdminState.User u = name == null ? null : users.get(name);
        if (u == null || password == null) {
            PasswordHash.verify(password == null ? "" : password, Dummy.HASH);
            return Optional.empty();
        }
        return PasswordHash.verify(password, u.hash()) ? Optional.of(new SaslUser(name, u.senders(), u.rates()))
                : Optional.empty();
    }
}
