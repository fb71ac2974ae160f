package io.relay.node.delivery;

import io.relay.routing.NextHop;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Hashtable;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.naming.CommunicationException;
import javax.naming.Context;
import javax.naming.NameNotFoundException;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves next hops as Postfix's smtp(8) does: for an unbracketed hop, its MX records by
 * preference (shuffled among equal preferences, so load spreads), then each exchanger's
 * A/AAAA records; the domain's own A/AAAA when it has no MX; a null MX (RFC 7505) is a
 * permanent failure ({@link NullMxException}). Bracketed hops skip the MX lookup. The
 * SmtpClient walks the returned list, so a refused connection or a 4xx greeting moves on
 * to the next exchanger.
 *
 * <p>Strategy: the JDK's DNS provider (JNDI, {@code dns://server:port}), blocking, on the
 * delivery worker threads. Netty's DnsNameResolver was the first choice, but its decoder
 * hands MX rdata back with compressed names left as pointers into a message it no longer
 * has; JNDI decodes MX fully and needs no extra dependency.
 *
 * <p>Each record type is its own query, and one type's failure never throws away another's
 * answer; what fails is reported with its type and response code ({@link DnsLookupException}).
 *
 * <p>Settings: {@code smtp.dns-servers} (host:port list; empty = the system resolver),
 * the query timeout.
 */
public final class MxResolver implements NextHopResolver {
    private static final Logger LOG = LoggerFactory.getLogger(MxResolver.class);
    private final String providerUrl;
    private final Duration timeout;

    /** @param dnsServers smtp.dns-servers; empty means the system's resolvers */
    public MxResolver(List<InetSocketAddress> dnsServers, Duration timeout) {
        this.providerUrl = io.relay.node.config.DnsServers.providerUrl(dnsServers);
        this.timeout = timeout;
    }

    @Override
    public List<InetSocketAddress> resolve(NextHop hop) throws UnknownHostException {
        DirContext ctx = context();
        try {
            if (!hop.mxLookup()) {
                return addresses(ctx, hop.host(), hop.port());
            }
            List<String> exchangers = exchangers(ctx, hop.host());
            if (exchangers.isEmpty()) {
                return addresses(ctx, hop.host(), hop.port());
            }
            List<InetSocketAddress> out = new ArrayList<>();
            DnsLookupException failed = null;
            for (String mx : exchangers) {
                try {
                    out.addAll(addresses(ctx, mx, hop.port()));
                } catch (DnsLookupException e) {
                    // An exchanger without addresses is skipped, as Postfix does; others may work.
                    // A temporary failure is the one worth reporting: it says why to try again.
                    if (failed == null || (failed.kind() != DnsLookupException.Kind.TRY_AGAIN
                            && e.kind() == DnsLookupException.Kind.TRY_AGAIN)) {
                        failed = e;
                    }
                }
            }
            if (out.isEmpty()) {
                throw failed;
            }
            return out;
        } finally {
            try {
                ctx.close();
            } catch (NamingException ignored) {
                // nothing held open
            }
        }
    }

    private DirContext context() throws UnknownHostException {
        Hashtable<String, String> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.dns.DnsContextFactory");
        env.put(Context.PROVIDER_URL, providerUrl);
        env.put("com.sun.jndi.dns.timeout.initial", Long.toString(Math.max(100, timeout.toMillis() / 3)));
        env.put("com.sun.jndi.dns.timeout.retries", "2");
        try {
            return new InitialDirContext(env);
        } catch (NamingException e) {
            throw new UnknownHostException("no DNS resolver: " + e.getExplanation());
        }
    }

    /** The domain's exchangers by preference; empty when it has no MX records (NODATA). */
    private static List<String> exchangers(DirContext ctx, String domain) throws UnknownHostException {
        Answer mx = lookup(ctx, domain, "MX");
        if (mx.failure() != null) {
            if (mx.failure().kind() == DnsLookupException.Kind.NO_DATA) {
                return List.of();
            }
            throw mx.failure();
        }
        TreeMap<Integer, List<String>> byPreference = new TreeMap<>();
        try {
            for (String value : mx.values()) {
                String[] parts = value.trim().split("\\s+");
                if (parts.length != 2) {
                    continue;
                }
                String host = parts[1].endsWith(".") ? parts[1].substring(0, parts[1].length() - 1) : parts[1];
                byPreference.computeIfAbsent(Integer.parseInt(parts[0]), k -> new ArrayList<>())
                        .add(host.toLowerCase(Locale.ROOT));
            }
        } catch (NumberFormatException e) {
            throw new DnsLookupException(domain, "MX", DnsLookupException.Kind.TRY_AGAIN, "malformed MX record");
        }
        List<String> ordered = new ArrayList<>();
        for (List<String> same : byPreference.values()) {
            Collections.shuffle(same, ThreadLocalRandom.current());
            ordered.addAll(same);
        }
        if (ordered.size() == 1 && ordered.get(0).isEmpty()) {
            throw new NullMxException(domain);
        }
        ordered.removeIf(String::isEmpty);
        return ordered;
    }

    /**
     * The host's A and AAAA records. Each type is asked on its own and a failure of one never
     * discards the other's answer (a resolver that refuses or fails AAAA, as dnsmasq without
     * an upstream does, still yields the A records). With no address at all, the failure
     * reported is a temporary one if either type had one, else A's.
     */
    private static List<InetSocketAddress> addresses(DirContext ctx, String host, int port) throws UnknownHostException {
        List<InetSocketAddress> out = new ArrayList<>();
        if (Character.digit(host.charAt(0), 16) >= 0 && (host.contains(":") || host.matches("[0-9.]+"))) {
            out.add(new InetSocketAddress(InetAddress.getByName(host), port));
            return out;
        }
        DnsLookupException failed = null;
        for (String type : List.of("A", "AAAA")) {
            Answer answer = lookup(ctx, host, type);
            if (answer.failure() != null) {
                if (failed == null || (failed.kind() != DnsLookupException.Kind.TRY_AGAIN
                        && answer.failure().kind() == DnsLookupException.Kind.TRY_AGAIN)) {
                    failed = answer.failure();
                }
                continue;
            }
            for (String value : answer.values()) {
                InetAddress literal = InetAddress.getByName(value.trim());
                // Keep the name with the address, so the log says mx1.example.com[192.0.2.1].
                out.add(new InetSocketAddress(InetAddress.getByAddress(host, literal.getAddress()), port));
            }
        }
        if (out.isEmpty()) {
            throw failed;
        }
        if (failed != null && failed.kind() == DnsLookupException.Kind.TRY_AGAIN) {
            LOG.debug("{}; using the other type's addresses", failed.getMessage());
        }
        return out;
    }

    /** One type's answer: its record values, or why there are none. */
    private record Answer(List<String> values, DnsLookupException failure) { }

    private static Answer lookup(DirContext ctx, String name, String type) {
        try {
            Attribute a = ctx.getAttributes(name, new String[] {type}).get(type);
            if (a == null || a.size() == 0) {
                return new Answer(List.of(), new DnsLookupException(name, type, DnsLookupException.Kind.NO_DATA, null));
            }
            List<String> values = new ArrayList<>();
            NamingEnumeration<?> all = a.getAll();
            while (all.hasMore()) {
                values.add(all.next().toString());
            }
            return new Answer(values, null);
        } catch (NamingException e) {
            return new Answer(List.of(), failure(name, type, e));
        }
    }

    private static final Pattern RESPONSE_CODE = Pattern.compile("\\[response code (\\d+)]");
    private static final List<String> RCODES = List.of("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
            "REFUSED");

    /**
     * What the JDK's DNS provider threw, as the DNS said it: NXDOMAIN is "not found"; the
     * other response codes (SERVFAIL, REFUSED, ...) and a server that does not answer are
     * temporary, named by their code.
     */
    static DnsLookupException failure(String name, String type, NamingException e) {
        if (e instanceof NameNotFoundException) {
            return new DnsLookupException(name, type, DnsLookupException.Kind.NOT_FOUND, null);
        }
        String explanation = e.getExplanation() == null ? "" : e.getExplanation();
        Matcher m = RESPONSE_CODE.matcher(explanation);
        String detail;
        if (m.find()) {
            int code = Integer.parseInt(m.group(1));
            detail = code < RCODES.size() ? RCODES.get(code) : "response code " + code;
        } else if (e instanceof CommunicationException) {
            detail = e.getRootCause() instanceof java.net.SocketTimeoutException
                    || explanation.contains("timed out") ? "timed out" : "no answer from the DNS server";
        } else {
            detail = explanation.isEmpty() ? e.getClass().getSimpleName() : explanation;
        }
        return new DnsLookupException(name, type, DnsLookupException.Kind.TRY_AGAIN, detail);
    }
}
