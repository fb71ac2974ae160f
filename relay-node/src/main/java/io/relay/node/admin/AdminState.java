package io.relay.node.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The cluster-wide admin changes, as one versioned value: the networks added to and removed
 * from the config file's {@code smtpd.mynetworks}. Every change makes a new value with
 * {@code version + 1}; the version decides which copy wins when a restarted cluster seeds
 * itself from the nodes' files.
 *
 * @param version   counts changes since the first one
 * @param updatedAt epoch milliseconds of the last change
 * @param added     canonical CIDRs added to mynetworks
 * @param removed   canonical CIDRs of the config file taken out of mynetworks
 */
public record AdminState(long version, long updatedAt, List<String> added, List<String> removed) {
    static final AdminState EMPTY = new AdminState(0, 0, List.of(), List.of());
    private static final ObjectMapper JSON = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public AdminState {
        added = List.copyOf(added == null ? List.of() : added);
        removed = List.copyOf(removed == null ? List.of() : removed);
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
    AdminState add(String network, List<String> configured, long now) {
        List<String> a = new ArrayList<>(added);
        List<String> r = new ArrayList<>(removed);
        boolean changed = r.remove(network);
        if (!configured.contains(network) && !a.contains(network)) {
            a.add(network);
            changed = true;
        }
        return changed ? new AdminState(version + 1, now, a, r) : this;
    }

    /** This state with {@code network} out of force; unchanged (same instance) when it was not in force. */
    AdminState remove(String network, List<String> configured, long now) {
        List<String> a = new ArrayList<>(added);
        List<String> r = new ArrayList<>(removed);
        boolean changed = a.remove(network);
        if (configured.contains(network) && !r.contains(network)) {
            r.add(network);
            changed = true;
        }
        return changed ? new AdminState(version + 1, now, a, r) : this;
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
