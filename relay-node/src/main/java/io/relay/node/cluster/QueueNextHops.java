package io.relay.node.cluster;

import io.relay.queue.NextHopNamer;
import io.relay.routing.Agent;
import io.relay.routing.Route;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * The next hops the queue's operator view shows ({@code relayctl queue summary}, {@code list
 * --nexthop}, {@code --nexthop} selections): what the router decides for each pending
 * recipient, as qshape would group mail by where it goes. SMTP routes by their next hop as
 * Postfix writes it ({@code [email-smtp.us-east-1.amazonaws.com]:587}, {@code example.com});
 * other kinds by their transport's name ({@code discard}, {@code error}, a file transport).
 * The queue stores the names at accept and after each attempt, so after a routing change
 * the view follows at the message's next attempt ({@code queue retry} makes that now).
 */
public final class QueueNextHops {
    private QueueNextHops() {
    }

    /** A namer over {@code router} (recipient, sender → route). */
    public static NextHopNamer of(BiFunction<String, String, Route> router) {
        return (sender, recipients) -> {
            Set<String> out = new LinkedHashSet<>();
            for (String r : recipients) {
                out.add(name(router.apply(r, sender)));
            }
            return List.copyOf(out);
        };
    }

    static String name(Route route) {
        return route.agent() instanceof Agent.Smtp smtp ? smtp.nextHop().text() : route.transport();
    }
}
