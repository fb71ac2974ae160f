package io.relay.node.dkim;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.naming.Context;
import javax.naming.NameNotFoundException;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;

/**
 * Whether a key's DNS record is published: the TXT records at {@code S._domainkey.DOMAIN}
 * looked up through the node's resolvers ({@code smtp.dns-servers}, else the system's), and
 * their p= compared with the key's public key. For {@code relayctl dkim list} and
 * {@code dkim activate}, never for a message.
 *
 * <p>Strategy: the JDK's DNS provider (JNDI), as the delivery's MX lookups do, so both ask
 * the same servers the same way. JNDI joins a record's character-strings with spaces and
 * quotes those that hold one, so quotes and white space are taken out of the p= value before
 * comparing; several TXT records at the name match when any one of them does.
 */
public final class DkimRecordCheck {
    /** What the lookup found. */
    public enum Status {
        PUBLISHED("published"), MISSING("missing"), MISMATCH("mismatch"), LOOKUP_FAILED("lookup failed");

        private final String text;

        Status(String text) {
            this.text = text;
        }

        /** As relayctl shows it. */
        public String text() {
            return text;
        }
    }

    private static final Pattern P_TAG = Pattern.compile("(?:^|;)\\s*p\\s*=([^;]*)");

    private final String providerUrl;
    private final Duration timeout;

    /** @param dnsServers smtp.dns-servers; empty means the system's resolvers */
    public DkimRecordCheck(List<InetSocketAddress> dnsServers, Duration timeout) {
        this.providerUrl = io.relay.node.config.DnsServers.providerUrl(dnsServers);
        this.timeout = timeout;
    }

    /** Whether the record at {@code domain}'s {@code selector} publishes {@code publicKeyBase64}. */
    public Status check(String domain, String selector, String publicKeyBase64) {
        List<String> texts;
        try {
            texts = txt(selector + "._domainkey." + domain);
        } catch (NameNotFoundException e) {
            return Status.MISSING;
        } catch (NamingException e) {
            return Status.LOOKUP_FAILED;
        }
        if (texts.isEmpty()) {
            return Status.MISSING;
        }
        for (String t : texts) {
            String p = publicKey(t);
            if (p != null && p.equals(publicKeyBase64)) {
                return Status.PUBLISHED;
            }
        }
        return Status.MISMATCH;
    }

    /** The p= of a record's text without quotes and white space, or null when it has none. */
    static String publicKey(String jndiText) {
        String t = jndiText.replace("\"", "");
        Matcher m = P_TAG.matcher(t);
        return m.find() ? m.group(1).replaceAll("\\s+", "") : null;
    }

    private List<String> txt(String name) throws NamingException {
        Hashtable<String, String> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.dns.DnsContextFactory");
        env.put(Context.PROVIDER_URL, providerUrl);
        env.put("com.sun.jndi.dns.timeout.initial", Long.toString(Math.max(100, timeout.toMillis() / 3)));
        // one retry: a listing looks up every key in turn, and a dead server must not hold it for minutes
        env.put("com.sun.jndi.dns.timeout.retries", "1");
        DirContext ctx = new InitialDirContext(env);
        try {
            Attribute a = ctx.getAttributes(name, new String[] {"TXT"}).get("TXT");
            List<String> out = new ArrayList<>();
            if (a != null) {
                NamingEnumeration<?> all = a.getAll();
                while (all.hasMore()) {
                    out.add(String.valueOf(all.next()));
                }
            }
            return out;
        } finally {
            ctx.close();
        }
    }
}
