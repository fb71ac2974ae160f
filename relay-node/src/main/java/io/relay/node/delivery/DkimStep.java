package io.relay.node.delivery;

import io.relay.node.dkim.MessageSigning;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.QueuedMessage;
import io.relay.routing.Route;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SMTP transport's DKIM step (issue 21): signs a lane's message with
 * {@link MessageSigning} unless the route's transport has {@code dkim: off}, and counts what
 * happened ({@code relay_dkim_*}); an unsigned message gives a DEBUG line, a held one its
 * deferral reason (the mail log shows it with status=deferred).
 */
public final class DkimStep {
    private static final Logger LOG = LoggerFactory.getLogger(DkimStep.class);

    /** No signing at all: for tests and nodes built without it. */
    public static final DkimStep OFF = new DkimStep(null, Set.of(), null);

    private final MessageSigning signing;
    private final Set<String> unsignedTransports;
    private final RelayMetrics metrics;

    /**
     * @param signing            the key choice and signer
     * @param unsignedTransports the transports with smtp.transports.NAME.dkim: off
     */
    public DkimStep(MessageSigning signing, Set<String> unsignedTransports, RelayMetrics metrics) {
        this.signing = signing;
        this.unsignedTransports = Set.copyOf(unsignedTransports);
        this.metrics = metrics;
    }

    MessageSigning.Outcome apply(Route route, QueuedMessage message) {
        if (signing == null) {
            return new MessageSigning.Outcome.Unsigned(MessageSigning.NO_KEY, null);
        }
        if (unsignedTransports.contains(route.transport())) {
            metrics.dkimUnsigned(MessageSigning.TRANSPORT_OFF);
            LOG.debug("{}: not DKIM-signed: transport {} has dkim: off", message.id(), route.transport());
            return new MessageSigning.Outcome.Unsigned(MessageSigning.TRANSPORT_OFF, null);
        }
        MessageSigning.Outcome o = signing.sign(message.body());
        if (o instanceof MessageSigning.Outcome.Signed s) {
            s.algorithms().forEach(a -> metrics.dkimSignature(s.domain(), a.tag()));
        } else if (o instanceof MessageSigning.Outcome.Unsigned u) {
            metrics.dkimUnsigned(u.reason());
            LOG.debug("{}: not DKIM-signed: no active key for {}", message.id(),
                    u.domain() == null ? "its From: domain (none found)" : u.domain());
        } else if (o instanceof MessageSigning.Outcome.Held h) {
            metrics.dkimFailure(h.dsn().equals("4.7.0") ? "required" : "error");
        }
        return o;
    }
}
