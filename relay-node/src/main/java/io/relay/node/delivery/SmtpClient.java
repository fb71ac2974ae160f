package io.relay.node.delivery;

import io.relay.queue.MessageBody;
import io.relay.routing.Credentials;
import io.relay.routing.NextHop;
import io.relay.routing.TlsLevel;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The outbound SMTP client: delivers one message to one next hop and reports a result per
 * recipient, as Postfix's smtp(8) does.
 *
 * <p>Strategy: plain blocking sockets ({@link Socket}, layered with {@link SSLSocket} after
 * STARTTLS). It runs on the queue's delivery worker threads, never on a Netty event loop,
 * so blocking is cheap and keeps the dialogue a straight line of code. Each address of the
 * next hop is tried in turn on connection failure. STARTTLS follows Postfix's
 * smtp_tls_security_level (none, may with plaintext retry after a failed handshake,
 * encrypt, verify, secure), TLS 1.2 and 1.3 only. AUTH PLAIN (or LOGIN) only inside TLS
 * (Postfix's noplaintext default); a refused AUTH defers. PIPELINING when offered: MAIL,
 * every RCPT and DATA go out in one write. SIZE, BODY=8BITMIME and SMTPUTF8 are sent when
 * offered and needed. Idle connections are cached per (next hop, TLS policy, credentials),
 * checked with RSET before reuse and closed with QUIT after {@code idleTime}.
 *
 * <p>Parts: this class resolves the next hop, opens and sets up the session (connect,
 * greeting, EHLO, STARTTLS by policy, AUTH) and keeps the idle-connection cache;
 * {@link SmtpConnection} is one connection and its session commands; {@link SmtpTransaction}
 * is the mail transaction (MAIL, RCPT, DATA, dot-stuffing).
 *
 * <p>Settings: {@code smtp.connect-timeout}, {@code smtp.reply-timeout} (each reply
 * wait), {@code smtp.connection-reuse} (per route), the route's TLS level, CA file and
 * credentials. The AUTH exchange and passwords never reach a log line or an exception.
 */
public final class SmtpClient implements AutoCloseable {
    private final String heloName;
    private final int connectTimeoutMillis;
    private final int replyTimeoutMillis;
    private final long idleNanos;
    private final NextHopResolver resolver;
    private final Map<String, Deque<SmtpConnection>> idle = new HashMap<>();
    private final Map<String, SSLContext> tlsContexts = new ConcurrentHashMap<>();
    private final ScheduledExecutorService idleCloser;

    /**
     * @param heloName       our name in EHLO (myhostname)
     * @param connectTimeout smtp.connect-timeout
     * @param replyTimeout   smtp.reply-timeout
     * @param idleTime       how long a cached connection may stay idle (a few seconds)
     */
    public SmtpClient(String heloName, Duration connectTimeout, Duration replyTimeout, Duration idleTime,
                      NextHopResolver resolver) {
        this.heloName = heloName;
        this.connectTimeoutMillis = (int) connectTimeout.toMillis();
        this.replyTimeoutMillis = (int) replyTimeout.toMillis();
        this.idleNanos = idleTime.toNanos();
        this.resolver = resolver;
        this.idleCloser = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "smtp-idle-closer");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(200, idleTime.toMillis() / 2);
        idleCloser.scheduleWithFixedDelay(this::closeIdle, period, period, TimeUnit.MILLISECONDS);
    }

    /** How one delivery should talk to its next hop; built from a {@code Route}. */
    public record Policy(TlsLevel tlsLevel, Path tlsCaFile, Credentials credentials, boolean connectionReuse) {
        String cacheKey(NextHop hop) {
            return hop.text() + "|" + tlsLevel + "|" + tlsCaFile + "|"
                    + (credentials == null ? "" : credentials.key() + "|" + credentials.username());
        }
    }

    /**
     * Asked once the session is set up (connected, EHLO, STARTTLS, AUTH), right before MAIL
     * FROM: the moment the next hop sees the message, so a send rate counts from here.
     */
    @FunctionalInterface
    public interface TransactionGate {
        TransactionGate OPEN = () -> null;

        /** Null to go ahead; else why not, and until when to hold the recipients back. Blocks while it waits. */
        Held admit() throws InterruptedException;
    }

    /** A transaction the gate did not admit: the recipients are held back until {@code untilMillis}. */
    public record Held(long untilMillis, String reason) {
    }

    /** Delivers {@code content} (CRLF lines, not dot-stuffed) to {@code recipients} via {@code hop}. */
    public SmtpDelivery deliver(NextHop hop, Policy policy, String sender, List<String> recipients, byte[] content,
                                boolean smtpUtf8, boolean eightBitMime) {
        return deliver(hop, policy, sender, recipients, new MessageBody.InMemory(content), smtpUtf8, eightBitMime,
                TransactionGate.OPEN);
    }

    /** As above, for a content in the heap or on disk, asking {@code gate} right before MAIL FROM. */
    public SmtpDelivery deliver(NextHop hop, Policy policy, String sender, List<String> recipients, MessageBody content,
                                boolean smtpUtf8, boolean eightBitMime, TransactionGate gate) {
        long start = System.nanoTime();
        List<RecipientResult> early = new ArrayList<>();
        List<String> sendable = new ArrayList<>();
        for (String r : recipients) {
            if (hasLineBreak(r)) {
                early.add(RecipientResult.bounced(r, "5.1.3", "bad address syntax: line break in recipient"));
            } else {
                sendable.add(r);
            }
        }
        if (hasLineBreak(sender)) {
            for (String r : sendable) {
                early.add(RecipientResult.bounced(r, "5.1.7", "bad sender address syntax: line break in sender"));
            }
            sendable.clear();
        }
        if (sendable.isEmpty()) {
            return new SmtpDelivery("none", 0, 0, 0, false, early);
        }

        String key = policy.cacheKey(hop);
        SmtpConnection conn = policy.connectionReuse() ? takeIdle(key) : null;
        boolean reused = conn != null;
        if (conn == null) {
            Opened opened = open(hop, policy, sendable);
            if (opened.failure != null) {
                List<RecipientResult> all = new ArrayList<>(early);
                all.addAll(opened.failure);
                return new SmtpDelivery(opened.relay, System.nanoTime() - start, 0, 0, false, all,
                        opened.connectionFailure);
            }
            conn = opened.connection;
        }
        long setup = System.nanoTime() - start;
        Held held;
        try {
            held = gate.admit();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            held = new Held(System.currentTimeMillis() + 1000, "interrupted while waiting for a send slot");
        }
        if (held != null) {
            // The session is healthy: keep it for the next delivery if we may.
            if (policy.connectionReuse()) {
                giveBack(key, conn);
            } else {
                conn.quit();
            }
            List<RecipientResult> all = new ArrayList<>(early);
            for (String r : sendable) {
                all.add(RecipientResult.deferred(r, "4.4.5", held.reason()));
            }
            return new SmtpDelivery(conn.relay, setup, 0, 0, reused, all, false, held);
        }
        long tx = System.nanoTime();
        SmtpTransaction t = new SmtpTransaction(conn, sender, sendable, content, smtpUtf8, eightBitMime);
        List<RecipientResult> results = new ArrayList<>(early);
        results.addAll(t.run());
        long transmit = System.nanoTime() - tx;
        if (t.reusable && policy.connectionReuse()) {
            giveBack(key, conn);
        } else {
            conn.quit();
        }
        return new SmtpDelivery(conn.relay, setup, transmit, t.roundTrips, reused, results, false, null);
    }

    private static boolean hasLineBreak(String address) {
        return address.indexOf('\r') >= 0 || address.indexOf('\n') >= 0;
    }

    // ---- connection setup ----

    /** @param connectionFailure no SMTP session came about: connect, greeting or the first EHLO failed */
    private record Opened(SmtpConnection connection, String relay, List<RecipientResult> failure,
                          boolean connectionFailure) {
        Opened(SmtpConnection connection, String relay, List<RecipientResult> failure) {
            this(connection, relay, failure, false);
        }

        Opened asConnectionFailure() {
            return new Opened(connection, relay, failure, true);
        }
    }

    private Opened open(NextHop hop, Policy policy, List<String> rcpts) {
        List<InetSocketAddress> addresses;
        try {
            addresses = resolver.resolve(hop);
        } catch (NullMxException e) {
            List<RecipientResult> out = new ArrayList<>();
            for (String r : rcpts) {
                out.add(RecipientResult.bounced(r, "5.1.10", "Domain " + hop.host() + " does not accept mail (nullMX)"));
            }
            return new Opened(null, "none", out);
        } catch (DnsLookupException e) {
            // Postfix's words, with the record type and the server's answer that failed.
            return failAll(rcpts, "none", "4.4.3", "Host or domain name not found. " + e.getMessage());
        } catch (UnknownHostException e) {
            return failAll(rcpts, "none", "4.4.3", "Host or domain name not found. Name service error for name="
                    + hop.host() + " type=A: Host not found" + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"));
        }
        Opened last = failAll(rcpts, "none", "4.4.1", "connect to " + hop.host() + ": no address");
        boolean anySession = false;
        for (InetSocketAddress address : addresses) {
            last = openAt(hop, address, policy, rcpts, true);
            anySession |= !last.connectionFailure;
            // A refused connection or a temporary failure moves on to the next address (next MX);
            // a permanent answer decides for the whole next hop.
            boolean allDeferred = last.failure != null
                    && last.failure.stream().allMatch(r -> r.status() == RecipientResult.Status.DEFERRED);
            if (last.connection != null || !allDeferred) {
                return last;
            }
        }
        // A session with an earlier address (refused later, e.g. at STARTTLS) means the hop is up.
        return anySession && last.connectionFailure ? new Opened(null, last.relay, last.failure) : last;
    }

    private Opened openAt(NextHop hop, InetSocketAddress address, Policy policy, List<String> rcpts, boolean tryTls) {
        String ip = address.getAddress().getHostAddress();
        // The resolver keeps the exchanger's name with each address (an MX host, or the hop itself).
        String hostText = address.getHostString() + "[" + ip + "]";
        String relay = hostText + ":" + address.getPort();
        Socket socket = new Socket();
        try {
            socket.connect(address, connectTimeoutMillis);
        } catch (IOException e) {
            SmtpConnection.closeQuietly(socket);
            String why = e instanceof ConnectException ? "Connection refused"
                    : e instanceof SocketTimeoutException ? "Connection timed out" : e.getClass().getSimpleName();
            return failAll(rcpts, "none", "4.4.1", "connect to " + relay + ": " + why).asConnectionFailure();
        }
        SmtpConnection c = new SmtpConnection(hop, address.getHostString(), hostText, relay, replyTimeoutMillis);
        String stage = "receiving the initial server greeting";
        boolean beforeSession = true;
        try {
            socket.setSoTimeout(replyTimeoutMillis);
            socket.setTcpNoDelay(true);
            c.attach(socket);
            SmtpReply greeting = c.read();
            if (greeting.code() != 220) {
                c.close();
                return failServer(rcpts, c, greeting, "initial server greeting").asConnectionFailure();
            }
            stage = "performing the EHLO handshake";
            SmtpReply ehlo = c.ehlo(heloName);
            beforeSession = false;
            if (!ehlo.positive()) {
                c.close();
                return failServer(rcpts, c, ehlo, "EHLO/HELO command");
            }
            boolean offered = c.extensions.containsKey("STARTTLS");
            TlsLevel level = policy.tlsLevel();
            if (level.required() && !offered) {
                c.quit();
                return failAll(rcpts, relay, "4.7.4", "TLS is required, but was not offered by host " + hostText);
            }
            if (level != TlsLevel.NONE && offered && tryTls) {
                stage = "performing the STARTTLS handshake";
                SmtpReply r = c.command("STARTTLS");
                if (r.code() != 220) {
                    if (level.required()) {
                        c.quit();
                        return failServer(rcpts, c, r, "STARTTLS command");
                    }
                } else {
                    try {
                        c.startTls(tlsContext(policy), hop.host(), level == TlsLevel.SECURE);
                    } catch (IOException | GeneralSecurityException e) {
                        c.close();
                        if (level == TlsLevel.MAY) {
                            // Postfix retries opportunistic TLS in plaintext after a failed handshake.
                            return openAt(hop, address, policy, rcpts, false);
                        }
                        return failAll(rcpts, relay, "4.7.5", "TLS handshake failed with " + hostText + ": "
                                + tlsReason(e));
                    }
                    stage = "performing the EHLO handshake";
                    SmtpReply again = c.ehlo(heloName);
                    if (!again.positive()) {
                        c.close();
                        return failServer(rcpts, c, again, "EHLO command");
                    }
                }
            }
            if (policy.credentials() != null) {
                if (!c.tls) {
                    c.quit();
                    return failAll(rcpts, relay, "4.7.0", "SASL authentication over plaintext is not allowed "
                            + "with " + hostText + " (noplaintext): TLS was not negotiated");
                }
                stage = "performing the AUTH exchange";
                SmtpReply auth = c.authenticate(policy.credentials());
                if (auth != null && !auth.positive()) {
                    c.quit();
                    // smtp_sasl_auth_soft_bounce: a refused login is a configuration error; retry later.
                    return failAll(rcpts, relay, "4.7.0", "SASL authentication failed; server " + hostText
                            + " said: " + auth.text());
                }
            }
            return new Opened(c, relay, null);
        } catch (SocketTimeoutException e) {
            c.close();
            Opened o = failAll(rcpts, relay, "4.4.2", "conversation with " + hostText + " timed out while " + stage);
            return beforeSession ? o.asConnectionFailure() : o;
        } catch (IOException e) {
            c.close();
            Opened o = failAll(rcpts, relay, "4.4.2", "lost connection with " + hostText + " while " + stage);
            return beforeSession ? o.asConnectionFailure() : o;
        }
    }

    private static String tlsReason(Exception e) {
        // The JDK's messages carry no secrets; keep only the first line.
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private static Opened failAll(List<String> rcpts, String relay, String dsn, String detail) {
        List<RecipientResult> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(RecipientResult.deferred(r, dsn, detail));
        }
        return new Opened(null, relay, out);
    }

    private static Opened failServer(List<String> rcpts, SmtpConnection c, SmtpReply reply, String inReplyTo) {
        List<RecipientResult> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(fromReply(r, c, reply, inReplyTo));
        }
        return new Opened(null, c.relay, out);
    }

    static RecipientResult fromReply(String rcpt, SmtpConnection c, SmtpReply reply, String inReplyTo) {
        String detail = "host " + c.hostText + " said: " + reply.text() + " (in reply to " + inReplyTo + ")";
        RecipientResult.Status s = reply.positive() ? RecipientResult.Status.SENT
                : reply.permanent() ? RecipientResult.Status.BOUNCED : RecipientResult.Status.DEFERRED;
        return new RecipientResult(rcpt, s, reply.dsn(), detail, c.remoteMta, reply.text());
    }

    private SSLContext tlsContext(Policy policy) throws GeneralSecurityException, IOException {
        String key = policy.tlsLevel().compareTo(TlsLevel.VERIFY) >= 0 ? "verify:" + policy.tlsCaFile() : "any";
        SSLContext existing = tlsContexts.get(key);
        if (existing != null) {
            return existing;
        }
        TrustManager[] trust;
        if (key.equals("any")) {
            // may/encrypt: encryption without authentication, as Postfix does at these levels.
            trust = new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }};
        } else {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (policy.tlsCaFile() == null) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                int i = 0;
                try (InputStream in = Files.newInputStream(policy.tlsCaFile())) {
                    for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                        ks.setCertificateEntry("ca" + i++, cert);
                    }
                }
                tmf.init(ks);
            }
            trust = tmf.getTrustManagers();
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, trust, null);
        tlsContexts.put(key, ctx);
        return ctx;
    }

    // ---- the connection cache ----

    private SmtpConnection takeIdle(String key) {
        while (true) {
            SmtpConnection c;
            synchronized (this) {
                Deque<SmtpConnection> q = idle.get(key);
                c = q == null ? null : q.pollFirst();
            }
            if (c == null) {
                return null;
            }
            if (System.nanoTime() - c.idleSince > idleNanos) {
                c.quit();
                continue;
            }
            // RSET outside the lock: other deliveries take and return connections meanwhile.
            try {
                if (c.command("RSET").positive()) {
                    return c;
                }
            } catch (IOException e) {
                // The server closed it while idle; open a fresh one.
            }
            c.close();
        }
    }

    private synchronized void giveBack(String key, SmtpConnection c) {
        c.idleSince = System.nanoTime();
        idle.computeIfAbsent(key, k -> new ArrayDeque<>()).addFirst(c);
    }

    private void closeIdle() {
        List<SmtpConnection> stale = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            for (Deque<SmtpConnection> q : idle.values()) {
                for (Iterator<SmtpConnection> it = q.iterator(); it.hasNext(); ) {
                    SmtpConnection c = it.next();
                    if (now - c.idleSince > idleNanos) {
                        it.remove();
                        stale.add(c);
                    }
                }
            }
        }
        stale.forEach(SmtpConnection::quit);
    }

    /**
     * Closes the cached idle connections to these next hops (by {@code NextHop.text()}): a
     * node that gives a cluster connection lease back must not keep the connection open.
     */
    public void closeIdle(java.util.Collection<String> hopTexts) {
        List<SmtpConnection> closing = new ArrayList<>();
        synchronized (this) {
            for (Map.Entry<String, Deque<SmtpConnection>> e : idle.entrySet()) {
                for (String hop : hopTexts) {
                    if (e.getKey().startsWith(hop + "|")) {
                        closing.addAll(e.getValue());
                        e.getValue().clear();
                    }
                }
            }
        }
        closing.forEach(SmtpConnection::quit);
    }

    @Override
    public void close() {
        idleCloser.shutdownNow();
        List<SmtpConnection> all = new ArrayList<>();
        synchronized (this) {
            idle.values().forEach(all::addAll);
            idle.clear();
        }
        all.forEach(SmtpConnection::quit);
    }
}
