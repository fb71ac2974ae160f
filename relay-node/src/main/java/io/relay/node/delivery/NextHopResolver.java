package io.relay.node.delivery;

import io.relay.routing.NextHop;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;

/** Turns a next hop into the addresses to try, in the order to try them. */
public interface NextHopResolver {

    /**
     * @throws UnknownHostException when the name does not resolve (a temporary failure for
     *                              a relayhost: the message is deferred)
     */
    List<InetSocketAddress> resolve(NextHop hop) throws UnknownHostException;
}
