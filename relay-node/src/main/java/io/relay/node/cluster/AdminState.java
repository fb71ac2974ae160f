package io.relay.node.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.annotation.JsonCreator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The cluster-wide admin changes, as one versioned value: the networks added to and removed
 * from the config file's {@code smtpd.mynetworks}, and the routing overlay (transport table
 * entries, next-hop limits and credentials) laid over {@code smtp.*}. Every change makes a
 * new value with {@code version + 1}; the version decides which copy wins when a restarted
 * cluster seeds itself from the nodes' files. {@code format} is the layout (1: networks
 * only, 2: with the routing overlay, 3: with the SASL users, 4: with the DKIM keys); a format-1
 * value reads as one with an empty overlay, a format-1 or -2 value as one that never had a
 * users table, and a value before 4 as one without DKIM keys.
 *
 * @param version          counts changes since the first one
 * @param updatedAt        epoch milliseconds of the last change
 * @param added            canonical CIDRs added to mynetworks
 * @param removed          canonical CIDRs of the config file taken out of mynetworks
 * @param format           the layout of this value, {@link #FORMAT} when written by this version
 * @param transport        transport table entries set by admin, lower-case pattern → {@code transport:nexthop}
 * @param transportRemoved patterns of the config file's transport table taken out
 * @param limits           next hop (as {@code NextHop.text()} or a bare host) → its limits
 * @param credentials      next hop → SASL user and password (stored unencrypted)
 * @param users            SMTP AUTH users by login name: password hash, senders, rates
 * @param usersTable       whether the cluster has had a users table (the first {@code smtpd.sasl-users-file}
 *                         seed or the first {@code relayctl users} change made it); from then on relayctl
 *                         owns the users and the bootstrap file is ignored, so a removed user stays removed
 * @param dkim             DKIM signing domains → their keys and active selector; private keys only sealed
 *                         ({@link DkimKeyVault}), never in clear
 */
public record AdminState(long version, long updatedAt, List<String> added, List<String> removed, int format,
                         Map<String, String> transport, List<String> transportRemoved, Map<String, Limit> limits,
                         Map<String, Secret> credentials, Map<String, User> users, boolean usersTable,
                         Map<String, DkimDomain> dkim) {
    static final int FORMAT = 4;
    static final AdminState EMPTY = new AdminState(0, 0, List.of(), List.of());
    private static final ObjectMapper JSON = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * One next hop's limits; a null field leaves the transport's own setting in force.
     *
     * @param rates       e.g. ["1/s", "50000/d"], or null
     * @param concurrency connections to the next hop across the cluster, or null
     */
    public record Limit(List<String> rates, Integer concurrency) {
        public Limit {
            rates = rates == null ? null : List.copyOf(rates);
        }
    }

    /** A SASL user and password; {@link #toString()} never shows the password. */
    public record Secret(String user, String password) {
        @Override
        public String toString() {
            return "Secret[user=" + user + ", password=*****]";
        }
    }

    /**
     * One SMTP AUTH user; the name is the key of {@link #users()}. {@link #toString()} never
     * shows the hash, and nothing outside the cluster's state (answers, logs) carries it.
     *
     * @param hash    Argon2id or bcrypt hash of the password ({@code io.relay.node.auth.PasswordHash})
     * @param senders addresses or {@code @domain}s the user may send as; empty: any
     * @param rates   e.g. ["100/m", "10000/d"] for the whole cluster; empty: no limit
     */
    public record User(String hash, List<String> senders, List<String> rates) {
        public User {
            senders = senders == null ? List.of() : List.copyOf(senders);
            rates = rates == null ? List.of() : List.copyOf(rates);
        }

        @Override
        public String toString() {
            return "User[senders=" + senders + ", rates=" + rates + ", hash=*****]";
        }
    }

    /**
     * One DKIM signing domain: its keys by selector and the selector that signs.
     *
     * @param active the selector whose key signs, or null while none does
     * @param keys   selector → key
     */
    public record DkimDomain(String active, Map<String, DkimKeyEntry> keys) {
        public DkimDomain {
            keys = sorted(keys);
        }
    }

    /**
     * One DKIM key. The private key is only here sealed: AES-256-GCM under the cluster's
     * key-encryption key ({@link DkimKeyVault}); {@link #toString()} does not show even that.
     *
     * @param algorithm  {@code rsa} or {@code ed25519}
     * @param created    epoch milliseconds
     * @param activated  when it first signed, or null (pending)
     * @param retired    when it was retired (its private key then dropped), or null
     * @param publicKey  the p= of its DNS record
     * @param sealed     the sealed PKCS#8 private key, base64 (nonce then ciphertext and tag); null once retired
     * @param kekId      names the key-encryption key that sealed it (not the key itself), so a node with another
     *                   one can say so
     */
    public record DkimKeyEntry(String algorithm, long created, Long activated, Long retired, String publicKey,
                               String sealed, String kekId) {
        @Override
        public String toString() {
            return "DkimKeyEntry[" + algorithm + ", created " + created + ", activated " + activated + ", retired "
                    + retired + ", sealed=*****]";
        }
    }

    @JsonCreator
    public AdminState {
        added = List.copyOf(added == null ? List.of() : added);
        removed = List.copyOf(removed == null ? List.of() : removed);
        format = format == 0 ? 1 : format;
        transport = sorted(transport);
        transportRemoved = List.copyOf(transportRemoved == null ? List.of() : transportRemoved);
        limits = sorted(limits);
        credentials = sorted(credentials);
        users = sorted(users);
        dkim = sorted(dkim);
    }

    /** A networks-only value (format 1 layout, empty overlay). */
    public AdminState(long version, long updatedAt, List<String> added, List<String> removed) {
        this(version, updatedAt, added, removed, FORMAT, null, null, null, null);
    }

    /** A value without users (format 2 layout): it never had a users table. */
    public AdminState(long version, long updatedAt, List<String> added, List<String> removed, int format,
                      Map<String, String> transport, List<String> transportRemoved, Map<String, Limit> limits,
                      Map<String, Secret> credentials) {
        this(version, updatedAt, added, removed, format, transport, transportRemoved, limits, credentials, null, false);
    }

    /** A value without DKIM keys (format 3 layout). */
    public AdminState(long version, long updatedAt, List<String> added, List<String> removed, int format,
                      Map<String, String> transport, List<String> transportRemoved, Map<String, Limit> limits,
                      Map<String, Secret> credentials, Map<String, User> users, boolean usersTable) {
        this(version, updatedAt, added, removed, format, transport, transportRemoved, limits, credentials, users,
                usersTable, null);
    }

    private static <V> Map<String, V> sorted(Map<String, V> m) {
        return m == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(m));
    }

    /** This state's overlay and networks as the next version. */
    public AdminState next(long now) {
        return new AdminState(version + 1, now, added, removed, FORMAT, transport, transportRemoved, limits,
                credentials, users, usersTable, dkim);
    }

    /** This state with other networks, same overlay and version. */
    public AdminState withNetworks(List<String> a, List<String> r) {
        return new AdminState(version, updatedAt, a, r, FORMAT, transport, transportRemoved, limits, credentials, users,
                usersTable, dkim);
    }

    public AdminState withTransport(Map<String, String> t, List<String> tRemoved) {
        return new AdminState(version, updatedAt, added, removed, FORMAT, t, tRemoved, limits, credentials, users,
                usersTable, dkim);
    }

    public AdminState withLimits(Map<String, Limit> l) {
        return new AdminState(version, updatedAt, added, removed, FORMAT, transport, transportRemoved, l, credentials,
                users, usersTable, dkim);
    }

    public AdminState withCredentials(Map<String, Secret> c) {
        return new AdminState(version, updatedAt, added, removed, FORMAT, transport, transportRemoved, limits, c, users,
                usersTable, dkim);
    }

    /** This state with these users; it has a users table from now on (relayctl owns the users). */
    public AdminState withUsers(Map<String, User> u) {
        return new AdminState(version, updatedAt, added, removed, FORMAT, transport, transportRemoved, limits,
                credentials, u, true, dkim);
    }

    /** This state with these DKIM domains and keys. */
    public AdminState withDkim(Map<String, DkimDomain> d) {
        return new AdminState(version, updatedAt, added, removed, FORMAT, transport, transportRemoved, limits,
                credentials, users, usersTable, d);
    }

    /** Same content as {@code other}, ignoring version and time. */
    public boolean sameContent(AdminState other) {
        return added.equals(other.added) && removed.equals(other.removed) && transport.equals(other.transport)
                && transportRemoved.equals(other.transportRemoved) && limits.equals(other.limits)
                && credentials.equals(other.credentials) && users.equals(other.users) && usersTable == other.usersTable
                && dkim.equals(other.dkim);
    }

    @Override
    public String toString() {
        return "AdminState[version=" + version + ", networks +" + added + " -" + removed + ", transport " + transport
                + " -" + transportRemoved + ", limits " + limits + ", credentials for " + credentials.keySet() + ", users "
                + (usersTable ? users.keySet() : "(no table yet)") + ", dkim " + dkim.keySet() + "]";
    }

    /** The effective mynetworks: the configured ones not removed, then the added ones. */
    public List<String> effective(List<String> configured) {
        Set<String> out = new LinkedHashSet<>();
        for (String c : configured) {
            if (!removed.contains(c)) {
                out.add(c);
            }
        }
        out.addAll(added);
        return List.copyOf(out);
    }

    /** This state with {@code network} in force; unchanged (same instance) when it already was. */
    public AdminState add(String network, List<String> configured, long now) {
        List<String> a = new ArrayList<>(added);
        List<String> r = new ArrayList<>(removed);
        boolean changed = r.remove(network);
        if (!configured.contains(network) && !a.contains(network)) {
            a.add(network);
            changed = true;
        }
        return changed ? withNetworks(a, r).next(now) : this;
    }

    /** This state with {@code network} out of force; unchanged (same instance) when it was not in force. */
    public AdminState remove(String network, List<String> configured, long now) {
        List<String> a = new ArrayList<>(added);
        List<String> r = new ArrayList<>(removed);
        boolean changed = a.remove(network);
        if (configured.contains(network) && !r.contains(network)) {
            r.add(network);
            changed = true;
        }
        return changed ? withNetworks(a, r).next(now) : this;
    }

    String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static AdminState fromJson(String json) {
        try {
            return JSON.readValue(json, AdminState.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not an admin state: " + e.getOriginalMessage());
        }
    }
}
