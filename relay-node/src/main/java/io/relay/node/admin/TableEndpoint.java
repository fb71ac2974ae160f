package io.relay.node.admin;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.NoSuchElementException;

/**
 * An admin table at one path, the shape the users and DKIM keys share: GET lists it, POST
 * applies one change; any other path under it is a 404 and any other method a 405.
 */
abstract class TableEndpoint implements AdminRequestHandler.Endpoint {
    private final String path;

    TableEndpoint(String path) {
        this.path = path;
    }

    @Override
    public final String prefix() {
        return path;
    }

    @Override
    public final Object handle(HttpMethod method, String path, QueryStringDecoder query, String body, String client) {
        if (!path.equals(this.path)) {
            throw new NoSuchElementException("no such endpoint: " + path);
        }
        if (method.equals(HttpMethod.GET)) {
            return get();
        }
        if (method.equals(HttpMethod.POST)) {
            return post(body, client);
        }
        throw new UnsupportedOperationException("use GET or POST");
    }

    /** The table as listed. */
    abstract Object get();

    /** One change from the request body; {@code client} for the audit line. */
    abstract Object post(String body, String client);
}
