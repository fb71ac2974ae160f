package io.relay.node.smtpd;

import io.relay.node.config.HostPort;
import io.relay.node.config.RelayConfig;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * One listening address and its role.
 *
 * @param authOffered whether AUTH is offered here (after TLS): always on submission(s), on
 *                    port 25 with {@code smtpd.sasl-auth-enable}
 */
public record SmtpListener(InetSocketAddress address, ListenerRole role, boolean authOffered) {

    /** The metrics label and log name: the listen address as configured ({@code 0.0.0.0:587}). */
    public String label() {
        return address.getHostString() + ":" + address.getPort();
    }

    /** Port-25 listeners without AUTH: the server as it was before submission existed. */
    public static List<SmtpListener> mta(List<InetSocketAddress> addresses) {
        return addresses.stream().map(a -> new SmtpListener(a, ListenerRole.MTA, false)).toList();
    }

    /** Every listener of {@code smtpd.listen}, {@code smtpd.submission.listen} and {@code smtpd.submissions.listen}. */
    public static List<SmtpListener> from(RelayConfig.Smtpd smtpd) {
        List<SmtpListener> out = new ArrayList<>();
        add(out, smtpd.listen, ListenerRole.MTA, smtpd.saslAuthEnable);
        add(out, smtpd.submission.listen, ListenerRole.SUBMISSION, smtpd.saslAuthEnable);
        add(out, smtpd.submissions.listen, ListenerRole.SUBMISSIONS, smtpd.saslAuthEnable);
        return List.copyOf(out);
    }

    private static void add(List<SmtpListener> out, List<HostPort> addresses, ListenerRole role, boolean saslAuthEnable) {
        for (HostPort hp : addresses) {
            out.add(new SmtpListener(hp.toSocketAddress(), role, role.offersAuth(saslAuthEnable)));
        }
    }
}
