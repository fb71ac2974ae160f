package io.relay.node.auth;

import java.net.InetAddress;

/**
 * Failed AUTH attempts per client address, counted for the whole cluster in a sliding
 * window ({@code smtpd.auth-failure-limit} in {@code smtpd.auth-failure-window}). A locked
 * client gets {@code 421 4.7.0} at connect and {@code 454 4.7.0} at AUTH until the window
 * passes. The address is the real client's: the PROXY protocol source behind a load balancer.
 */
public interface AuthFailures {
    /** Whether {@code client} has reached the limit in the current window. May block briefly; call off the event loop. */
    boolean locked(InetAddress client);

    /** Counts one failed AUTH by {@code client}. */
    void failed(InetAddress client);

    /** Counts nothing and locks no one. */
    AuthFailures NONE = new AuthFailures() {
        @Override
        public boolean locked(InetAddress client) {
            return false;
        }

        @Override
        public void failed(InetAddress client) {
        }
    };
}
