package io.relay.routing;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where a Postfix setup's smtpd listened, as our {@code smtpd.listen} entries: master.cf's
 * {@code inet} services run by smtpd (or postscreen, which hands port 25 to smtpd) on the
 * addresses of main.cf's {@code inet_interfaces} and {@code inet_protocols}. Pure.
 *
 * <p>Strategy, as Postfix binds: a service written {@code host:port} binds that address
 * alone; a bare port (a number, or a name such as {@code smtp}) binds every interface
 * address. {@code all} is the wildcard, {@code loopback-only} and {@code localhost} are
 * 127.0.0.1 and, with IPv6 among the protocols, ::1; other entries are taken as written.
 * Unset parameters take Postfix 3's defaults ({@code all}, {@code all}), and a setup with
 * no master.cf gets the stock one's {@code smtp inet … smtpd} line.
 *
 * <p>The wildcard with IPv6 becomes one {@code [::]} listener rather than Postfix's two
 * sockets: the JVM cannot set IPV6_V6ONLY, so 0.0.0.0 and [::] on one port do not both
 * bind, while a Linux [::] socket takes IPv4 clients too (they show as IPv4 addresses).
 * submission and smtps services are listed as not carried: this relay has no inbound SASL
 * AUTH nor implicit TLS, and a listener that accepted their clients without either would
 * refuse or expose them.
 */
final class PostfixListeners {
    /** An {@code inet} line of master.cf: its service field ({@code [host:]port}) and its command. */
    record Inet(String service, String command, int line, Set<String> overrides) {
    }

    /** The listen entries (host:port, IPv6 in brackets) and what was noted or left out. */
    record Result(List<String> listen, List<NotCarried> notes) {
    }

    private static final Map<String, Integer> PORTS = Map.of("smtp", 25, "submission", 587, "smtps", 465,
            "submissions", 465);
    private static final Set<Integer> CLIENT_SUBMISSION_PORTS = Set.of(587, 465);

    private PostfixListeners() {
    }

    /**
     * @param inetInterfaces main.cf inet_interfaces, expanded, if set
     * @param inetProtocols  main.cf inet_protocols, expanded, if set
     * @param services       master.cf's inet services
     * @param masterCfGiven  false when there was no master.cf (the stock one is assumed)
     */
    static Result of(Optional<String> inetInterfaces, Optional<String> inetProtocols, List<Inet> services,
                     boolean masterCfGiven) {
        List<NotCarried> notes = new ArrayList<>();
        List<Inet> inet = services;
        if (!masterCfGiven) {
            inet = List.of(new Inet("smtp", "smtpd", 0, Set.of()));
            notes.add(new NotCarried("master.cf", "(none given)", "listeners taken from Postfix's stock master.cf"
                    + " (smtp inet … smtpd); import the directory with its master.cf to carry its own"));
        }
        String protocolsText = inetProtocols.orElse("all").toLowerCase(Locale.ROOT);
        Set<String> protocols = new LinkedHashSet<>();
        for (String p : TableLines.items(protocolsText)) {
            if (p.equals("all")) {
                protocols.add("ipv4");
                protocols.add("ipv6");
            } else {
                protocols.add(p);
            }
        }
        boolean v4 = protocols.contains("ipv4");
        boolean v6 = protocols.contains("ipv6");
        List<String> hosts = new ArrayList<>();
        boolean wildcardV6 = false;
        for (String i : TableLines.items(inetInterfaces.orElse("all"))) {
            switch (i.toLowerCase(Locale.ROOT)) {
                case "all" -> {
                    if (v6) {
                        hosts.add("::");
                        wildcardV6 = true;
                    } else {
                        hosts.add("0.0.0.0");
                    }
                }
                case "loopback-only", "localhost" -> {
                    if (v4 || !v6) {
                        hosts.add("127.0.0.1");
                    }
                    if (v6) {
                        hosts.add("::1");
                    }
                }
                default -> hosts.add(unbracket(i));
            }
        }
        if (wildcardV6) {
            notes.add(new NotCarried("main.cf: inet_protocols", inetProtocols.orElse("(unset: Postfix default all)"),
                    "carried as one [::] listener per port, which on Linux also takes IPv4 clients (0.0.0.0 and [::]"
                            + " on one port cannot both be bound by the JVM); on a host without IPv6 write 0.0.0.0:PORT"));
        }

        Set<String> listen = new LinkedHashSet<>();
        boolean anySmtpd = false;
        for (Inet s : inet) {
            if (!s.command().equals("smtpd") && !s.command().equals("postscreen")) {
                continue;
            }
            anySmtpd = true;
            String label = "master.cf" + (s.line() > 0 ? ":" + s.line() : "") + ": " + s.service() + " inet "
                    + s.command();
            int colon = s.service().lastIndexOf(':');
            String host = colon < 0 ? null : unbracket(s.service().substring(0, colon));
            String portText = colon < 0 ? s.service() : s.service().substring(colon + 1);
            Integer port = portText.chars().allMatch(Character::isDigit) && !portText.isEmpty()
                    ? Integer.valueOf(portText) : PORTS.get(portText.toLowerCase(Locale.ROOT));
            if (port == null || port < 1 || port > 65535) {
                notes.add(new NotCarried(label, "", "not carried: '" + portText + "' is not a port number nor a"
                        + " service name this import knows (smtp, submission, smtps); add it to smtpd.listen"));
                continue;
            }
            if (CLIENT_SUBMISSION_PORTS.contains(port) || PORTS.containsKey(portText) && !portText.equals("smtp")) {
                notes.add(new NotCarried(label, String.join(" ", s.overrides()), "not carried: mail submission"
                        + " (port 587 with STARTTLS and SASL AUTH, or 465 with implicit TLS) is not offered by this"
                        + " relay; clients must send from smtpd.mynetworks to the smtpd.listen port instead"));
                continue;
            }
            for (String h : host == null || host.isEmpty() ? hosts : List.of(host)) {
                listen.add((h.contains(":") ? "[" + h + "]" : h) + ":" + port);
            }
            if (!s.overrides().isEmpty()) {
                notes.add(new NotCarried(label, String.join(" ", s.overrides()), "listener carried to smtpd.listen;"
                        + " its -o overrides are not: inbound policy is fixed (permit smtpd.mynetworks, relay domains)"));
            }
        }
        if (listen.isEmpty()) {
            notes.add(new NotCarried("smtpd.listen", "", (anySmtpd ? "no smtpd inet service could be carried"
                    : "no smtpd inet service: Postfix took mail only from the local sendmail command")
                    + "; smtpd.listen is left at this relay's default 127.0.0.1:2525: set it where your applications"
                    + " connect"));
        }
        return new Result(List.copyOf(listen), notes);
    }

    private static String unbracket(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }
}
