package io.relay.admin.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * The admin API's request and response bodies (v1), shared by the node's endpoints and
 * relayctl. Answers carry {@code ignoreUnknown} so an older relayctl reads a newer node;
 * requests do not, since the node refuses a field it does not know. Where an answer leaves
 * out its null fields ({@code NON_NULL}) that is the node's shape on the wire; where a
 * request does, relayctl sends only what the user gave.
 */
public final class AdminApi {
    private AdminApi() {
    }

    /** {@code GET} and {@code POST /admin/v1/networks} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Networks(List<String> networks, List<String> configured, List<String> added, List<String> removed,
                           long version, List<String> warnings) {
    }

    /** {@code POST /admin/v1/networks} body. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record NetworksChange(List<String> add, List<String> remove, boolean force) {
    }

    /** {@code POST /admin/v1/queue/hold|release|delete|retry} body: explicit ids, or every message, or one next hop. */
    @JsonInclude(JsonInclude.Include.NON_DEFAULT)
    public record QueueSelection(List<String> ids, boolean all, String nexthop) {
    }

    /** Every error answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record ApiError(String error) {
    }

    /** {@code GET} and {@code POST /admin/v1/transport} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Transport(List<TransportEntry> entries, long version, List<String> warnings) {
    }

    /** One listed entry; source is "config", "admin" or "config, removed by admin". */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record TransportEntry(String pattern, String result, String source) {
    }

    /** {@code POST /admin/v1/transport} body; an import is a transport(5) file's text. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record TransportChange(Map<String, String> set, List<String> remove, String importText,
                                  String importSource) {
    }

    /** {@code GET /admin/v1/transport/test} answer: the route's main fields and {@code text}, what {@code relay-node route} prints. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record RouteTest(String address, String sender, String transport, String kind, String nextHop,
                            String credentialsUser, Integer concurrency, List<String> rates, String matchedBy,
                            String text) {
    }

    /** {@code GET} and {@code POST /admin/v1/limits} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Limits(List<LimitEntry> limits, long version, List<String> warnings) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record LimitEntry(String nexthop, List<String> rates, Integer concurrency) {
    }

    /** {@code POST /admin/v1/limits} body. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LimitsChange(Map<String, Limit> set, List<String> remove) {
    }

    /** One next hop's limits; a null field leaves the admin value set before, else the transport's. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Limit(List<String> rates, Integer concurrency) {
    }

    /** {@code GET} and {@code POST /admin/v1/users} answer: the SMTP AUTH users, never a password or hash. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Users(List<UserEntry> users, long version, List<String> warnings) {
    }

    /** One SMTP AUTH user: the senders it may use (empty: any) and its rates (empty: none). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record UserEntry(String name, List<String> senders, List<String> rates) {
    }

    /** {@code POST /admin/v1/users} body: exactly one of add, passwd and remove. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record UsersChange(UserAdd add, UserPassword passwd, List<String> remove) {
    }

    /** A new user; the node keeps only the password's hash. {@link #toString()} hides the password. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record UserAdd(String name, String password, List<String> senders, List<String> rates) {
        @Override
        public String toString() {
            return "UserAdd[name=" + name + ", password=*****, senders=" + senders + ", rates=" + rates + "]";
        }
    }

    /** A user's new password; {@link #toString()} hides it. */
    public record UserPassword(String name, String password) {
        @Override
        public String toString() {
            return "UserPassword[name=" + name + ", password=*****]";
        }
    }

    /** {@code GET} and {@code POST /admin/v1/credentials} answer: next hops and users, never passwords. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Credentials(List<CredentialEntry> credentials, long version, List<String> warnings) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record CredentialEntry(String nexthop, String user) {
    }

    /** {@code POST /admin/v1/credentials} body. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record CredentialsChange(CredentialSet set, List<String> remove) {
    }

    /** One credential to set; {@link #toString()} hides the password. */
    public record CredentialSet(String nexthop, String user, String password) {
        @Override
        public String toString() {
            return "CredentialSet[nexthop=" + nexthop + ", user=" + user + ", password=*****]";
        }
    }

    /** A SASL user and password for a next hop; {@link #toString()} hides the password. */
    public record Login(String user, String password) {
        @Override
        public String toString() {
            return "Login[user=" + user + ", password=*****]";
        }
    }

    /**
     * {@code POST /admin/v1/import} body: the whole desired state of each class given (null:
     * leave it alone).
     *
     * @param networks    mynetworks in force afterwards (CIDRs)
     * @param transport   the transport table in force afterwards, pattern → {@code transport:nexthop}
     * @param limits      the admin limits afterwards, next hop → limit
     * @param credentials the admin credentials afterwards, next hop → login
     * @param dryRun      compute the difference only
     * @param force       allow networks that open relaying to the internet
     * @param source      where the setup came from, for the audit line (e.g. /etc/postfix)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ImportRequest(List<String> networks, Map<String, String> transport, Map<String, Limit> limits,
                                Map<String, Login> credentials, boolean dryRun, boolean force, String source) {
        @Override
        public String toString() {
            return "ImportRequest[networks=" + networks + ", transport=" + transport + ", limits=" + limits
                    + ", credentials for " + (credentials == null ? "[]" : credentials.keySet()) + ", dryRun="
                    + dryRun + "]";
        }
    }

    /** One difference the import makes: {@code op} is added, removed or changed; before/after are display text, never a secret. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ImportChange(String kind, String op, String key, String before, String after) {
    }

    /** {@code POST /admin/v1/import} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ImportAnswer(boolean dryRun, long version, List<ImportChange> changes, List<String> warnings) {
    }

    /**
     * {@code GET} and {@code POST /admin/v1/dkim} answer: the DKIM keys of every signing domain,
     * never a private key.
     *
     * @param record after a generate: the zone-file line to publish, else null
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Dkim(List<DkimKeyInfo> keys, long version, String record, List<String> warnings) {
    }

    /**
     * One DKIM key as listed.
     *
     * @param algorithm {@code rsa} or {@code ed25519}
     * @param created   ISO-8601 instant
     * @param activated ISO-8601 instant it first signed, or null
     * @param state     {@code active}, {@code pending} (never signed), {@code previous} (signed before; keep it
     *                  published until retired) or {@code retired}
     * @param dns       {@code published}, {@code missing}, {@code mismatch}, {@code lookup failed}, or null when not
     *                  looked up (retired keys)
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DkimKeyInfo(String domain, String selector, String algorithm, String created, String activated,
                              String state, String dns) {
    }

    /** {@code POST /admin/v1/dkim} body: exactly one of generate, activate and retire. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DkimChange(DkimGenerate generate, DkimSelect activate, DkimSelect retire) {
    }

    /** A new key made by the node; {@code algorithm} rsa (default) or ed25519, {@code selector} null for the default. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DkimGenerate(String domain, String algorithm, String selector) {
    }

    /** A domain's selector to activate or retire; {@code force} activates without the DNS record seen. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DkimSelect(String domain, String selector, Boolean force) {
    }
}
