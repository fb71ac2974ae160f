package io.relay.routing;

import java.net.InetAddress;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Who may send mail to whom through us, decided at RCPT as Postfix's
 * {@code smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
 * reject_unauth_destination}: clients in mynetworks and authenticated clients may relay
 * anywhere; anyone may send to a relay domain (or a subdomain of one); everything else
 * is "Relay access denied".
 */
public final class RelayPolicy {
    private volatile NetworkSet mynetworks;
    private final Set<String> relayDomains;

    public RelayPolicy(NetworkSet mynetworks, Set<String> relayDomains) {
        this.mynetworks = mynetworks;
        this.relayDomains = relayDomains.stream().map(d -> d.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
    }

    public boolean permitted(InetAddress client, boolean authenticated, String recipient) {
        return authenticated || mynetworks.contains(client) || relayDomain(recipient);
    }

    public boolean trustedClient(InetAddress client) {
        return mynetworks.contains(client);
    }

    private boolean relayDomain(String recipient) {
        int at = recipient.lastIndexOf('@');
        if (at < 0) {
            return false;
        }
        String domain = recipient.substring(at + 1).toLowerCase(Locale.ROOT);
        while (!domain.isEmpty()) {
            if (relayDomains.contains(domain)) {
                return true;
            }
            int dot = domain.indexOf('.');
            if (dot < 0) {
                return false;
            }
            domain = domain.substring(dot + 1);
        }
        return false;
    }

    /** Replaces mynetworks at run time (admin API). */
    public void mynetworks(NetworkSet networks) {
        this.mynetworks = networks;
    }

    public NetworkSet mynetworks() {
        return mynetworks;
    }
}
