package io.relay.cli;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** The admin API's request and response bodies, as relayctl knows them (v1). */
final class ApiRecords {
    private ApiRecords() {
    }

    /** {@code GET} and {@code POST /admin/v1/networks} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Networks(List<String> networks, List<String> configured, List<String> added, List<String> removed,
                    long version, List<String> warnings) {
    }

    /** {@code POST /admin/v1/networks} body. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record NetworksChange(List<String> add, List<String> remove, boolean force) {
    }

    /** {@code POST /admin/v1/queue/hold|release|delete|retry} body: one of the three selections. */
    @JsonInclude(JsonInclude.Include.NON_DEFAULT)
    record QueueSelection(List<String> ids, boolean all, String nexthop) {
    }

    /** Every error answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record ApiError(String error) {
    }

    /** {@code GET} and {@code POST /admin/v1/transport} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Transport(List<TransportEntry> entries, long version, List<String> warnings) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    record TransportEntry(String pattern, String result, String source) {
    }

    /** {@code POST /admin/v1/transport} body. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record TransportChange(Map<String, String> set, List<String> remove, String importText, String importSource) {
    }

    /** {@code GET /admin/v1/transport/test} answer; {@code text} is what {@code relay-node route} prints. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record RouteTest(String address, String text) {
    }

    /** {@code GET} and {@code POST /admin/v1/limits} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Limits(List<LimitEntry> limits, long version, List<String> warnings) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record LimitEntry(String nexthop, List<String> rates, Integer concurrency) {
    }

    /** {@code POST /admin/v1/limits} body; a limit is {@code {"rates":[...],"concurrency":N}}. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record LimitsChange(Map<String, Limit> set, List<String> remove) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Limit(List<String> rates, Integer concurrency) {
    }

    /** {@code GET} and {@code POST /admin/v1/credentials} answer: next hops and users, never passwords. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Credentials(List<CredentialEntry> credentials, long version, List<String> warnings) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    record CredentialEntry(String nexthop, String user) {
    }

    /** {@code POST /admin/v1/credentials} body. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record CredentialsChange(CredentialSet set, List<String> remove) {
    }

    /** One credential to set; {@link #toString()} hides the password. */
    record CredentialSet(String nexthop, String user, String password) {
        @Override
        public String toString() {
            return "CredentialSet[nexthop=" + nexthop + ", user=" + user + ", password=*****]";
        }
    }

    /** {@code POST /admin/v1/import} body: the whole desired state of each class given (null: leave it alone). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ImportRequest(List<String> networks, Map<String, String> transport, Map<String, Limit> limits,
                         Map<String, PostfixPlan.Login> credentials, boolean dryRun, boolean force, String source) {
        @Override
        public String toString() {
            return "ImportRequest[networks=" + networks + ", transport=" + transport + ", limits=" + limits
                    + ", credentials for " + (credentials == null ? "[]" : credentials.keySet()) + ", dryRun=" + dryRun + "]";
        }
    }

    /** One difference the import makes; before/after are display text (never a password). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ImportChange(String kind, String op, String key, String before, String after) {
    }

    /** {@code POST /admin/v1/import} answer. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record ImportAnswer(boolean dryRun, long version, List<ImportChange> changes, List<String> warnings) {
    }
}
