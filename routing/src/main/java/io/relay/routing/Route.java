package io.relay.routing;

import java.util.List;

/**
 * Where one recipient goes: the decision of the transport table, the default transport
 * and relayhost, with the settings of the transport that will carry it.
 *
 * @param transport       the transport's name as configured ("smtp", "ses", "file", ...)
 * @param agent           what carries it, with that kind's data (next hop, directory, text)
 * @param tlsLevel        STARTTLS policy for SMTP
 * @param tlsCaFile       CA bundle for verify/secure, or null for the JDK's trust store
 * @param credentials     SASL credentials for the next hop, or null
 * @param fallbackRelays  tried after the primary next hop fails with 4xx or a connection failure
 * @param limits          concurrency and rate limits of this next hop
 * @param connectionReuse keep the connection open for the next message to the same next hop
 * @param matchedBy       which table entry decided it, e.g. "transport_maps: example.com" or "relayhost"
 */
public record Route(String transport, Agent agent, TlsLevel tlsLevel, String tlsCaFile, Credentials credentials,
                    List<NextHop> fallbackRelays, Limits limits, boolean connectionReuse, String matchedBy) {

    /** The kinds' names: SMTP delivery, a file drop, discard, a bounce, or DEFER (retry later). */
    public enum Kind { SMTP, FILE, DISCARD, ERROR, DEFER }

    public Route {
        java.util.Objects.requireNonNull(agent, "agent");
        fallbackRelays = List.copyOf(fallbackRelays);
    }

    /** For SMTP: the next hop (relayhost, transport nexthop or the recipient's domain); null otherwise. */
    public NextHop nextHop() {
        return agent instanceof Agent.Smtp smtp ? smtp.nextHop() : null;
    }

    /** Each agent's one datum, for the lane key and {@code describe}: SMTP: the next hop; FILE: the directory; ERROR, DISCARD: the text; DEFER: the reason. */
    private static final Agent.Cases<String> ARGUMENT = new Agent.Cases<>() {
        @Override
        public String smtp(Agent.Smtp smtp) {
            return smtp.nextHop().text();
        }

        @Override
        public String file(Agent.FileDrop file) {
            return file.directory();
        }

        @Override
        public String discard(Agent.Discard discard) {
            return discard.text();
        }

        @Override
        public String bounce(Agent.Bounce bounce) {
            return bounce.text();
        }

        @Override
        public String defer(Agent.Defer defer) {
            return defer.reason();
        }
    };

    /** The key that groups deliveries into lanes (connections, limits): transport + next hop. */
    public String laneKey() {
        return transport + ":" + agent.match(ARGUMENT);
    }

    /**
     * The text the {@code route ADDRESS} command prints, one {@code key: value} per line
     * (like {@code postmap -q}). Shows the credentials' table key and user name, never
     * the password.
     */
    public String describe() {
        StringBuilder b = new StringBuilder();
        line(b, "transport", transport);
        line(b, "kind", agent.kind().name().toLowerCase(java.util.Locale.ROOT));
        if (agent instanceof Agent.Smtp smtp) {
            NextHop nextHop = smtp.nextHop();
            line(b, "next hop", nextHop == null ? "" : nextHop.text());
            line(b, "mx lookup", nextHop != null && nextHop.mxLookup() ? "yes" : "no");
            line(b, "tls security level", tlsLevel == null ? "" : tlsLevel.postfixName());
            line(b, "tls ca file", tlsCaFile == null ? "(JDK trust store)" : tlsCaFile);
            line(b, "credentials", credentials == null ? "none"
                    : credentials.key() + " (user " + credentials.username() + ")");
            line(b, "fallback relays", fallbackRelays.isEmpty() ? "none"
                    : String.join(", ", fallbackRelays.stream().map(NextHop::text).toList()));
            line(b, "concurrency", limits.concurrency() == 0 ? "default" : Integer.toString(limits.concurrency()));
            line(b, "rates", limits.rates().isEmpty() ? "unlimited" : String.join(", ", limits.rates()));
            line(b, "connection reuse", connectionReuse ? "yes" : "no");
        } else {
            line(b, "argument", agent.match(ARGUMENT));
        }
        line(b, "matched by", matchedBy);
        return b.toString();
    }

    private static void line(StringBuilder b, String key, String value) {
        b.append(key).append(": ").append(value).append('\n');
    }

    /**
     * @param concurrency simultaneous connections to this next hop (0 = the default)
     * @param rates       e.g. "1/s", "14/s", "50000/d" as written; empty = unlimited
     */
    public record Limits(int concurrency, List<String> rates) {
        public static final Limits NONE = new Limits(0, List.of());

        public Limits {
            rates = List.copyOf(rates);
        }
    }
}
