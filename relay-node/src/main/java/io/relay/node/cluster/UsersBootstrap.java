package io.relay.node.cluster;

import io.relay.node.auth.UsersFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first SASL users from {@code smtpd.sasl-users-file}, put into the cluster's users
 * table once: when the cluster's state has never had a users table
 * ({@link AdminState#usersTable()} false). From then on {@code relayctl users} owns the
 * users and the file is ignored (one INFO line at start when it holds users the table
 * lacks), so a user removed with relayctl does not come back at the next start.
 *
 * <p>Strategy: one compare-and-set change of the admin state after the store has restored
 * the newest state it knows, so after a full-cluster restart the restored table is seen and
 * the file is not read into it again; two nodes starting at once seed it once (the second's
 * change finds the table). The audit line names the users, never their hashes.
 */
public final class UsersBootstrap {
    private static final Logger LOG = LoggerFactory.getLogger(UsersBootstrap.class);
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    private UsersBootstrap() {
    }

    /** Seeds the users table from {@code file} if the cluster never had one; null: no file, nothing to do. */
    public static void seed(AdminStateStore store, Path file) {
        if (file == null) {
            return;
        }
        Map<String, UsersFile.Entry> entries;
        try {
            entries = UsersFile.read(file);
        } catch (IOException | IllegalArgumentException e) {
            // checked at load; it changed since: the cluster's table is not touched
            LOG.warn("smtpd.sasl-users-file {} not read, no users seeded: {}", file, e.getMessage());
            return;
        }
        if (entries.isEmpty()) {
            return;
        }
        Map<String, AdminState.User> users = new LinkedHashMap<>();
        entries.forEach((name, e) -> users.put(name, new AdminState.User(e.hash(), e.senders(), e.rates())));
        AtomicBoolean seeded = new AtomicBoolean();
        AdminState after = store.change(old -> {
            seeded.set(!old.usersTable());
            return old.usersTable() ? old : old.withUsers(users).next(store.now());
        });
        if (seeded.get()) {
            AUDIT.info("{} {} of {} put in the cluster's users table ({}) at its first start with one, version {};"
                    + " relayctl users manages them from now on", users.size(), users.size() == 1 ? "user" : "users",
                    file, String.join(", ", users.keySet()), after.version());
            return;
        }
        List<String> lacking = entries.keySet().stream().filter(n -> !after.users().containsKey(n)).toList();
        if (!lacking.isEmpty()) {
            LOG.info("smtpd.sasl-users-file {} ignored: the cluster's users table is managed with relayctl users;"
                    + " the file's users not in it: {}", file, String.join(", ", lacking));
        }
    }
}
