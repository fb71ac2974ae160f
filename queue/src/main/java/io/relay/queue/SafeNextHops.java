package io.relay.queue;

import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The node's {@link NextHopNamer}, with recipient domains instead when it throws: naming never fails a queue step. */
final class SafeNextHops implements NextHopNamer {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private final NextHopNamer namer;

    SafeNextHops(NextHopNamer namer) {
        this.namer = namer;
    }

    @Override
    public List<String> nextHops(String sender, List<String> recipients) {
        try {
            return namer.nextHops(sender, recipients);
        } catch (RuntimeException e) {
            LOG.debug("naming next hops failed; recipient domains instead: {}", e.toString());
            return NextHopNamer.RECIPIENT_DOMAIN.nextHops(sender, recipients);
        }
    }
}
