package io.relay.cli;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

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
}
