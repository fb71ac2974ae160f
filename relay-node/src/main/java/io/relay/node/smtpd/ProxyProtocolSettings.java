package io.relay.node.smtpd;

import io.relay.node.config.RelayConfig;
import io.relay.routing.NetworkSet;
import java.util.List;

/**
 * {@code smtpd.proxy-protocol}: the peers (load balancers) whose PROXY header is believed, and
 * whether every connection must start with one.
 *
 * @param trustedNetworks the CIDR texts as configured; empty means PROXY protocol is off
 * @param required every connection must begin with a PROXY header; false accepts connections without one
 */
public record ProxyProtocolSettings(List<String> trustedNetworks, boolean required) {
    public static final ProxyProtocolSettings OFF = new ProxyProtocolSettings(List.of(), false);

    public ProxyProtocolSettings {
        trustedNetworks = List.copyOf(trustedNetworks);
        NetworkSet.parse(trustedNetworks); // fail at construction, not at the first connection
    }

    public boolean enabled() {
        return !trustedNetworks.isEmpty();
    }

    NetworkSet trusted() {
        return NetworkSet.parse(trustedNetworks);
    }

    public static ProxyProtocolSettings from(RelayConfig.ProxyProtocol p) {
        return p == null || p.trustedNetworks == null || p.trustedNetworks.isEmpty()
                ? OFF : new ProxyProtocolSettings(p.trustedNetworks, p.required);
    }
}
