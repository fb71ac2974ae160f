package io.relay.routing;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Optional;

/**
 * Decides where one recipient goes, as Postfix's trivial-rewrite resolver does.
 *
 * <p>Strategy: transport_maps first (see {@link TransportTable} for its lookup order).
 * A match {@code transport:nexthop} sets both; {@code transport:} sends to the
 * recipient's domain (bypassing relayhost, as Postfix); {@code :nexthop} keeps the
 * default transport with that next hop; {@code :} changes nothing. Without a match the
 * recipient's domain decides between relay_transport ({@code relay}, for
 * smtpd.relay-domains) and default_transport. When no next hop was given, an SMTP
 * transport's next hop is: the transport's own {@code nexthop} setting, then
 * sender_dependent_relayhost_maps (sender, then @domain), then relayhost, then the
 * recipient's domain with MX lookup.
 *
 * <p>Built-in transports: smtp, relay (an alias of smtp), file, discard, error, retry.
 * A name that is neither built-in nor in smtp.transports routes to {@link Agent.Defer}
 * ("mail transport unavailable"), so the message waits in the queue instead of bouncing.
 * Settings of a named transport inherit from the default smtp settings field by field;
 * credentials are looked up in the chosen transport's table by the chosen next hop.
 *
 * <p>Pure and immutable but for a cache of parsed next-hop texts: safe to call from any thread.
 */
public final class Router {
    /** The transports that exist without configuration. */
    public static final List<String> BUILT_IN = List.of("smtp", "relay", "file", "discard", "error", "retry");
    private final RoutingConfig config;
    /** Each SMTP transport's settings with inheritance applied, and its parsed fallback relays. */
    private final Map<String, TransportSettings> smtpTransports = new HashMap<>();
    private final Map<String, List<NextHop>> fallbacks = new HashMap<>();
    private final String defaultTransport;
    private final String defaultArgument;
    private final Map<String, NextHop> parsedHops = new java.util.concurrent.ConcurrentHashMap<>();
    private static final int MAX_PARSED_HOPS = 10_000;

    /** Validates and resolves everything once, so a bad setting fails at start-up, not at the first message. */
    public Router(RoutingConfig config) {
        this.config = config;
        smtpTransports.put("smtp", config.smtp());
        smtpTransports.put("relay", config.smtp());
        config.transports().forEach((name, settings) ->
                smtpTransports.put(name.toLowerCase(Locale.ROOT), settings.inheritFrom(config.smtp())));
        smtpTransports.forEach((name, settings) -> fallbacks.put(name, parseHops(settings.fallbackRelays())));
        String d = config.defaultTransport();
        int colon = d.indexOf(':');
        this.defaultTransport = (colon < 0 ? d : d.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        this.defaultArgument = argumentOf(d);
    }

    public RoutingConfig config() {
        return config;
    }

    /**
     * True when mail routed to {@code transport} has a delivery agent: a built-in one or one of
     * {@code named} (smtp.transports); otherwise the router defers it as "mail transport unavailable".
     */
    public static boolean defines(String transport, java.util.Collection<String> named) {
        String t = transport.trim().toLowerCase(Locale.ROOT);
        return BUILT_IN.contains(t) || named.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT).equals(t));
    }

    /**
     * The route for one recipient.
     *
     * @param recipient the envelope recipient, {@code user@domain}
     * @param sender    the envelope sender ("" for the null sender)
     */
    public Route route(String recipient, String sender) {
        String domain = domainOf(recipient);
        Optional<TransportTable.Match> match = config.transportTable().lookup(recipient);
        String transport;
        String nexthop = "";
        String matchedBy;
        boolean recipientDomainNexthop = false;
        boolean relay = relayDomain(domain);
        String defaultName = relay ? "relay" : defaultTransport;
        String defaultNexthop = relay ? "" : defaultArgument;
        String defaultMatchedBy = relay ? "relay_domains (relay_transport)" : "default_transport";
        if (match.isPresent()) {
            TransportTable.Entry e = match.get().entry();
            matchedBy = "transport_maps: " + e.key();
            if (e.transport().isEmpty()) {
                transport = defaultName;
                nexthop = e.nexthop().isEmpty() ? defaultNexthop : e.nexthop();
            } else {
                transport = e.transport();
                nexthop = e.nexthop();
                recipientDomainNexthop = nexthop.isEmpty();
            }
        } else {
            transport = defaultName;
            nexthop = defaultNexthop;
            matchedBy = defaultMatchedBy;
        }
        return build(transport, nexthop, recipientDomainNexthop, domain, sender, matchedBy);
    }

    private Route build(String transport, String nexthop, boolean recipientDomainNexthop, String domain,
                        String sender, String matchedBy) {
        String t = transport.toLowerCase(Locale.ROOT);
        switch (t) {
            case "file" -> {
                return nonSmtp(t, new Agent.FileDrop(nexthop), matchedBy);
            }
            case "discard" -> {
                return nonSmtp(t, new Agent.Discard(nexthop), matchedBy);
            }
            case "error" -> {
                return nonSmtp(t, new Agent.Bounce(nexthop.isEmpty() ? "Address is undeliverable" : nexthop), matchedBy);
            }
            case "retry" -> {
                return nonSmtp(t, new Agent.Defer(nexthop.isEmpty() ? "Address is temporarily undeliverable" : nexthop),
                        matchedBy);
            }
            default -> { }
        }
        TransportSettings settings = smtpTransports.get(t);
        if (settings == null) {
            return nonSmtp(t, new Agent.Defer("mail transport unavailable: unknown transport \"" + transport + "\""),
                    matchedBy);
        }
        NextHop hop;
        if (!nexthop.isEmpty()) {
            hop = hop(nexthop);
        } else if (recipientDomainNexthop) {
            hop = domainHop(domain);
        } else if (settings.nexthop() != null && !settings.nexthop().isBlank()) {
            hop = hop(settings.nexthop());
            matchedBy = matchedBy + "; " + t + " nexthop";
        } else {
            Optional<SenderRelayhostTable.Entry> byS = config.senderRelayhosts().lookup(sender);
            if (byS.isPresent()) {
                hop = byS.get().nexthop();
                matchedBy = matchedBy + "; sender_dependent_relayhost_maps: " + byS.get().key();
            } else if (!config.relayhost().isEmpty()) {
                hop = hop(config.relayhost());
                matchedBy = matchedBy + "; relayhost";
            } else {
                hop = domainHop(domain);
            }
        }
        if (hop == null) {
            return nonSmtp(t, new Agent.Bounce("recipient address has no domain"), matchedBy);
        }
        Credentials creds = settings.credentials() == null ? null : settings.credentials().lookup(hop).orElse(null);
        return new Route(t, new Agent.Smtp(hop), settings.tlsLevel(), settings.tlsCaFile(), creds, fallbacks.get(t),
                new Route.Limits(settings.concurrency() == null ? 0 : settings.concurrency(), settings.rates()),
                Boolean.TRUE.equals(settings.connectionReuse()), matchedBy);
    }

    private Route nonSmtp(String transport, Agent agent, String matchedBy) {
        return new Route(transport, agent, null, null, null, List.of(), Route.Limits.NONE, false, matchedBy);
    }

    /**
     * A next hop written in the configuration or a transport table, parsed once: those texts
     * are few (they come from the operator), while routes are asked for every recipient.
     */
    private NextHop hop(String text) {
        NextHop hop = parsedHops.get(text);
        if (hop == null) {
            hop = NextHop.parse(text); // throws for a bad one, which is then not kept
            if (parsedHops.size() < MAX_PARSED_HOPS) {
                parsedHops.put(text, hop);
            }
        }
        return hop;
    }

    private static String argumentOf(String transportSpec) {
        int colon = transportSpec.indexOf(':');
        return colon < 0 ? "" : transportSpec.substring(colon + 1).trim();
    }

    private boolean relayDomain(String domain) {
        String d = domain;
        while (!d.isEmpty()) {
            if (config.relayDomains().contains(d)) {
                return true;
            }
            int dot = d.indexOf('.');
            if (dot < 0) {
                return false;
            }
            d = d.substring(dot + 1);
        }
        return false;
    }

    private static NextHop domainHop(String domain) {
        return domain.isEmpty() ? null : new NextHop(domain, NextHop.SMTP_PORT, true);
    }

    private static String domainOf(String address) {
        int at = address.lastIndexOf('@');
        return at < 0 ? "" : address.substring(at + 1).trim().toLowerCase(Locale.ROOT);
    }

    private static List<NextHop> parseHops(List<String> hops) {
        return hops == null ? List.of() : hops.stream().map(NextHop::parse).toList();
    }
}
