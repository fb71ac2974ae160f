package io.relay.node.admin;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.relay.node.cluster.ClusterMembers;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/cluster}: {@code GET} the members (address, partitions and queue entries
 * each owns, the readiness each reports, this node's circuit breakers) as
 * {@link ClusterMembers} sees them; {@code POST .../cluster/drain}: this node starts its
 * drain (as on SIGTERM) on a thread of its own and answers at once.
 */
final class ClusterEndpoint implements AdminRequestHandler.Endpoint {
    static final String PATH = "/admin/v1/cluster";
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");

    record Drain(String node, boolean draining, String detail) {
    }

    private final ClusterMembers members;
    private final Supplier<Map<String, String>> breakers;
    private final Runnable drain;
    private final AtomicBoolean drainStarted = new AtomicBoolean();

    /**
     * @param breakers this node's circuit breaker per next hop (closed, open, half_open)
     * @param drain    starts the node's drain; returns at once
     */
    ClusterEndpoint(ClusterMembers members, Supplier<Map<String, String>> breakers, Runnable drain) {
        this.members = members;
        this.breakers = breakers;
        this.drain = drain;
    }

    @Override
    public String prefix() {
        return PATH;
    }

    @Override
    public Object handle(HttpMethod method, String path, QueryStringDecoder query, String body, String client) {
        if (path.equals(PATH)) {
            if (!method.equals(HttpMethod.GET)) {
                throw new UnsupportedOperationException("use GET");
            }
            return members.status(breakers.get());
        }
        if (path.equals(PATH + "/drain")) {
            if (!method.equals(HttpMethod.POST)) {
                throw new UnsupportedOperationException("use POST");
            }
            return drain(client);
        }
        throw new NoSuchElementException("no such endpoint: " + path);
    }

    Drain drain(String client) {
        String name = members.hostname();
        if (!drainStarted.compareAndSet(false, true)) {
            return new Drain(name, true, "already draining");
        }
        AUDIT.warn("cluster drain of {} requested by {}", name, client);
        drain.run();
        return new Drain(name, true, "not ready now; closes its listeners after health.drain-delay"
                + " and leaves the cluster");
    }
}
