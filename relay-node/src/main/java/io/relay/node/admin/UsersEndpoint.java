package io.relay.node.admin;

import io.relay.admin.api.AdminApi;
import io.relay.node.auth.PasswordHash;
import io.relay.node.auth.SaslUser;
import io.relay.node.auth.SaslUserCheck;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.AdminStateStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/users}: the SMTP AUTH users of the whole cluster. {@code GET} lists name,
 * senders and rates; {@code POST} with exactly one of {@code {"add":{"name","password",
 * "senders","rates"}}}, {@code {"passwd":{"name","password"}}} or {@code {"remove":[names]}}
 * applies one change. The node hashes the password it receives ({@link PasswordHash}) and
 * keeps only the hash; neither the password nor the hash appears in an answer, an error, a
 * log or an audit line ({@code admin.audit}: "user NAME added (...) by CLIENT, version N").
 * Names, senders and rates pass the checks of the bootstrap file ({@link SaslUserCheck}).
 */
final class UsersEndpoint extends TableEndpoint {
    static final String PATH = "/admin/v1/users";
    /** Longer is no password a client types or a tool sends; it only makes hashing dearer. */
    static final int MAX_PASSWORD = 1024;
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    private final AdminStateStore store;

    UsersEndpoint(AdminStateStore store) {
        super(PATH);
        this.store = store;
    }

    @Override
    Object get() {
        return listing(store.state(), null);
    }

    @Override
    Object post(String body, String client) {
        return change(parse(body), client);
    }

    /** The request; a body that is not the expected JSON is named, never echoed (it may hold a password). */
    private static AdminApi.UsersChange parse(String body) {
        try {
            return AdminRequestHandler.parse(body, AdminApi.UsersChange.class);
        } catch (IllegalArgumentException e) {
            String m = String.valueOf(e.getMessage());
            if (m.startsWith("unknown field") || m.startsWith("empty body")) {
                throw e;
            }
            throw new IllegalArgumentException("body is not the expected JSON object");
        }
    }

    private static AdminApi.Users listing(AdminState s, List<String> warnings) {
        List<AdminApi.UserEntry> out = new ArrayList<>();
        s.users().forEach((name, u) -> out.add(new AdminApi.UserEntry(name, u.senders(), u.rates())));
        return new AdminApi.Users(out, s.version(), warnings == null || warnings.isEmpty() ? null : warnings);
    }

    AdminApi.Users change(AdminApi.UsersChange req, String client) {
        int kinds = (req.add() != null ? 1 : 0) + (req.passwd() != null ? 1 : 0)
                + (req.remove() != null && !req.remove().isEmpty() ? 1 : 0);
        if (kinds != 1) {
            throw new IllegalArgumentException("give exactly one of \"add\", \"passwd\" and \"remove\"");
        }
        if (req.add() != null) {
            return add(req.add(), client);
        }
        if (req.passwd() != null) {
            return passwd(req.passwd(), client);
        }
        return remove(req.remove(), client);
    }

    private AdminApi.Users add(AdminApi.UserAdd add, String client) {
        SaslUser u = SaslUserCheck.check(add.name(), add.senders(), add.rates());
        AdminState.User entry = new AdminState.User(PasswordHash.hash(checked(u.name(), add.password())), u.senders(),
                u.rates());
        AdminState after = store.change(old -> {
            if (old.users().containsKey(u.name())) {
                throw new IllegalArgumentException("user " + u.name()
                        + " exists; change its password with users passwd, or remove it first");
            }
            Map<String, AdminState.User> m = new LinkedHashMap<>(old.users());
            m.put(u.name(), entry);
            return old.withUsers(m).next(store.now());
        });
        AUDIT.info("user {} added (senders {}, rates {}) by {}, version {}", u.name(),
                u.senders().isEmpty() ? "any" : String.join(", ", u.senders()),
                u.rates().isEmpty() ? "none" : String.join(", ", u.rates()), client, after.version());
        return listing(after, null);
    }

    private AdminApi.Users passwd(AdminApi.UserPassword pw, String client) {
        String name = SaslUserCheck.check(pw.name(), null, null).name();
        String hash = PasswordHash.hash(checked(name, pw.password()));
        AdminState after = store.change(old -> {
            AdminState.User u = old.users().get(name);
            if (u == null) {
                throw new NoSuchElementException("no user " + name + "; add it with users add");
            }
            Map<String, AdminState.User> m = new LinkedHashMap<>(old.users());
            m.put(name, new AdminState.User(hash, u.senders(), u.rates()));
            return old.withUsers(m).next(store.now());
        });
        AUDIT.info("password of user {} changed by {}, version {}", name, client, after.version());
        return listing(after, null);
    }

    private AdminApi.Users remove(List<String> names, String client) {
        List<String> checked = new ArrayList<>();
        for (String n : names) {
            checked.add(SaslUserCheck.check(n, null, null).name());
        }
        List<String> removed = new ArrayList<>();
        AdminState after = store.change(old -> {
            removed.clear(); // a retried change starts again from the newer state
            Map<String, AdminState.User> m = new LinkedHashMap<>(old.users());
            for (String n : checked) {
                if (m.remove(n) != null) {
                    removed.add(n);
                }
            }
            // removing nobody changes nothing (and makes no users table where there was none)
            return removed.isEmpty() ? old : old.withUsers(m).next(store.now());
        });
        List<String> warnings = new ArrayList<>();
        for (String n : checked) {
            if (removed.contains(n)) {
                AUDIT.info("user {} removed by {}, version {}", n, client, after.version());
            } else {
                warnings.add("no user " + n);
            }
        }
        return listing(after, warnings);
    }

    /** The password as given; IllegalArgumentException naming the problem, never the password. */
    private static String checked(String name, String password) {
        if (password == null || password.isEmpty()) {
            throw new IllegalArgumentException("password for user " + name + " is empty; pipe it on stdin or use --generate");
        }
        if (password.chars().anyMatch(c -> c == '\r' || c == '\n' || c == 0)) {
            throw new IllegalArgumentException("password for user " + name + " holds a line break or NUL;"
                    + " SASL PLAIN cannot carry it");
        }
        if (password.length() > MAX_PASSWORD) {
            throw new IllegalArgumentException("password for user " + name + " is longer than " + MAX_PASSWORD
                    + " characters");
        }
        return password;
    }
}
