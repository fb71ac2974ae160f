package io.relay.node.delivery;

import io.relay.queue.MessageBody;
import io.relay.routing.Credentials;
import io.relay.routing.NextHop;
import io.relay.routing.TlsLevel;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
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
import java.util.Base64;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
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
 * <p>Settings: {@code smtp.connect-timeout}, {@code smtp.reply-timeout} (each reply
 * wait), {@code smtp.connection-reuse} (per route), the route's TLS level, CA file and
 * credentials. The AUTH exchange and passwords never reach a log line or an exception.
 */
public final class SmtpClient implements AutoCloseable {
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    private static final int MAX_LINE = 4096;

    private final String heloName;
    private final int connectTimeoutMillis;
    private final int replyTimeoutMillis;
    private final long idleNanos;
    private final NextHopResolver resolver;
    private final Map<String, Deque<Connection>> idle = new HashMap<>();
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
        Connection conn = policy.connectionReuse() ? takeIdle(key) : null;
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
        Transaction t = new Transaction(conn, sender, sendable, content, smtpUtf8, eightBitMime);
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
    private record Opened(Connection connection, String relay, List<RecipientResult> failure,
                          boolean connectionFailure) {
        Opened(Connection connection, String relay, List<RecipientResult> failure) {
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
            closeQuietly(socket);
            String why = e instanceof ConnectException ? "Connection refused"
                    : e instanceof SocketTimeoutException ? "Connection timed out" : e.getClass().getSimpleName();
            return failAll(rcpts, "none", "4.4.1", "connect to " + relay + ": " + why).asConnectionFailure();
        }
        Connection c = new Connection(hop, address.getHostString(), hostText, relay);
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

    private static Opened failServer(List<String> rcpts, Connection c, SmtpReply reply, String inReplyTo) {
        List<RecipientResult> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(fromReply(r, c, reply, inReplyTo));
        }
        return new Opened(null, c.relay, out);
    }

    static RecipientResult fromReply(String rcpt, Connection c, SmtpReply reply, String inReplyTo) {
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

    private Connection takeIdle(String key) {
        while (true) {
            Connection c;
            synchronized (this) {
                Deque<Connection> q = idle.get(key);
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

    private synchronized void giveBack(String key, Connection c) {
        c.idleSince = System.nanoTime();
        idle.computeIfAbsent(key, k -> new ArrayDeque<>()).addFirst(c);
    }

    private void closeIdle() {
        List<Connection> stale = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            for (Deque<Connection> q : idle.values()) {
                for (Iterator<Connection> it = q.iterator(); it.hasNext(); ) {
                    Connection c = it.next();
                    if (now - c.idleSince > idleNanos) {
                        it.remove();
                        stale.add(c);
                    }
                }
            }
        }
        stale.forEach(Connection::quit);
    }

    /**
     * Closes the cached idle connections to these next hops (by {@code NextHop.text()}): a
     * node that gives a cluster connection lease back must not keep the connection open.
     */
    public void closeIdle(java.util.Collection<String> hopTexts) {
        List<Connection> closing = new ArrayList<>();
        synchronized (this) {
            for (Map.Entry<String, Deque<Connection>> e : idle.entrySet()) {
                for (String hop : hopTexts) {
                    if (e.getKey().startsWith(hop + "|")) {
                        closing.addAll(e.getValue());
                        e.getValue().clear();
                    }
                }
            }
        }
        closing.forEach(Connection::quit);
    }

    @Override
    public void close() {
        idleCloser.shutdownNow();
        List<Connection> all = new ArrayList<>();
        synchronized (this) {
            idle.values().forEach(all::addAll);
            idle.clear();
        }
        all.forEach(Connection::quit);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing a socket that failed to connect
        }
    }

    // ---- one mail transaction ----

    private static final class Transaction {
        private final Connection c;
        private final String sender;
        private final List<String> rcpts;
        private final MessageBody content;
        private final boolean smtpUtf8;
        private final boolean eightBit;
        int roundTrips;
        boolean reusable;

        Transaction(Connection c, String sender, List<String> rcpts, MessageBody content, boolean smtpUtf8,
                    boolean eightBit) {
            this.c = c;
            this.sender = sender;
            this.rcpts = rcpts;
            this.content = content;
            this.smtpUtf8 = smtpUtf8;
            this.eightBit = eightBit || has8Bit(content);
        }

        List<RecipientResult> run() {
            Map<String, RecipientResult> out = new LinkedHashMap<>();
            String stage = "MAIL FROM command";
            try {
                if (smtpUtf8 && !c.extensions.containsKey("SMTPUTF8")) {
                    reusable = true;
                    for (String r : rcpts) {
                        out.put(r, RecipientResult.bounced(r, "5.6.7",
                                "SMTPUTF8 is required, but was not offered by host " + c.hostText));
                    }
                    return List.copyOf(out.values());
                }
                StringBuilder mail = new StringBuilder("MAIL FROM:<").append(sender).append('>');
                if (c.extensions.containsKey("SIZE")) {
                    mail.append(" SIZE=").append(content.length());
                }
                if (eightBit && c.extensions.containsKey("8BITMIME")) {
                    mail.append(" BODY=8BITMIME");
                }
                if (smtpUtf8) {
                    mail.append(" SMTPUTF8");
                }
                boolean pipelining = c.extensions.containsKey("PIPELINING");
                List<String> commands = new ArrayList<>();
                commands.add(mail.toString());
                for (String r : rcpts) {
                    commands.add("RCPT TO:<" + r + ">");
                }
                commands.add("DATA");
                List<SmtpReply> replies = new ArrayList<>();
                if (pipelining) {
                    for (String cmd : commands) {
                        c.write(cmd);
                    }
                    c.flush();
                    roundTrips++;
                    for (int i = 0; i < commands.size(); i++) {
                        stage = stageOf(i, commands.size());
                        replies.add(c.read());
                    }
                } else {
                    for (int i = 0; i < commands.size(); i++) {
                        stage = stageOf(i, commands.size());
                        replies.add(c.command(commands.get(i)));
                        roundTrips++;
                        boolean mailFailed = i == 0 && !replies.get(0).positive();
                        boolean noneAccepted = i == commands.size() - 2
                                && replies.subList(1, replies.size()).stream().noneMatch(SmtpReply::positive);
                        if (mailFailed || noneAccepted) {
                            break;
                        }
                    }
                }
                SmtpReply mailReply = replies.get(0);
                List<String> accepted = new ArrayList<>();
                for (int i = 0; i < rcpts.size(); i++) {
                    String r = rcpts.get(i);
                    if (!mailReply.positive()) {
                        out.put(r, fromReply(r, c, mailReply, "MAIL FROM command"));
                    } else if (i + 1 < replies.size() && !replies.get(i + 1).positive()) {
                        out.put(r, fromReply(r, c, replies.get(i + 1), "RCPT TO command"));
                    } else if (i + 1 < replies.size()) {
                        accepted.add(r);
                    }
                }
                SmtpReply dataReply = replies.size() == commands.size() ? replies.get(replies.size() - 1) : null;
                if (dataReply != null && dataReply.code() == 354) {
                    stage = "end of DATA command";
                    if (accepted.isEmpty()) {
                        // Pipelined DATA was accepted although no recipient was: send an empty message's end.
                        c.writeRaw(".\r\n".getBytes(StandardCharsets.US_ASCII));
                        c.flush();
                        c.read();
                    } else {
                        if (content instanceof MessageBody.InMemory m) {
                            c.writeRaw(dotStuffed(m.bytes()));
                        } else { // on disk: streamed from the file, never whole in the heap
                            try (InputStream in = content.open()) {
                                writeDotStuffed(in, c.out);
                            }
                        }
                        c.flush();
                        SmtpReply fin = c.read();
                        for (String r : accepted) {
                            out.put(r, fin.positive()
                                    ? new RecipientResult(r, RecipientResult.Status.SENT, fin.dsn(), fin.text(),
                                            c.remoteMta, fin.text())
                                    : fromReply(r, c, fin, "end of DATA command"));
                        }
                    }
                } else if (dataReply != null && !accepted.isEmpty()) {
                    for (String r : accepted) {
                        out.put(r, fromReply(r, c, dataReply, "DATA command"));
                    }
                }
                reusable = true;
            } catch (SocketTimeoutException e) {
                fillLost(out, "conversation with " + c.hostText + " timed out while sending " + stage);
            } catch (IOException e) {
                fillLost(out, "lost connection with " + c.hostText + " while sending " + stage);
            }
            List<RecipientResult> ordered = new ArrayList<>();
            for (String r : rcpts) {
                ordered.add(out.get(r));
            }
            return ordered;
        }

        private static String stageOf(int index, int count) {
            return index == 0 ? "MAIL FROM command" : index == count - 1 ? "DATA command" : "RCPT TO command";
        }

        private void fillLost(Map<String, RecipientResult> out, String detail) {
            reusable = false;
            c.close();
            for (String r : rcpts) {
                // After a lost connection the recipients not yet finally answered are owed again.
                RecipientResult done = out.get(r);
                if (done == null || done.status() == RecipientResult.Status.SENT) {
                    out.put(r, new RecipientResult(r, RecipientResult.Status.DEFERRED, "4.4.2", detail,
                            c.remoteMta, null));
                }
            }
        }

        private static boolean has8Bit(MessageBody body) {
            if (body instanceof MessageBody.InMemory m) {
                return has8Bit(m.bytes(), m.bytes().length);
            }
            // a large message on disk is read once more for it: rare, and cheaper than a wrong BODY=
            try (InputStream in = body.open()) {
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) > 0; ) {
                    if (has8Bit(buf, n)) {
                        return true;
                    }
                }
                return false;
            } catch (IOException e) {
                return true; // unknown: declaring 8BITMIME is the safe side when the server offers it
            }
        }

        private static boolean has8Bit(byte[] b, int n) {
            for (int i = 0; i < n; i++) {
                if (b[i] < 0) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Writes {@code content} with RFC 5321 dot-stuffing and the final CRLF "." CRLF, as
     * {@link #dotStuffed} does, reading it as it goes (the line state carries across reads).
     */
    static void writeDotStuffed(InputStream content, OutputStream out) throws IOException {
        byte[] buf = new byte[64 * 1024];
        boolean lineStart = true;
        boolean empty = true;
        int last = '\n';
        for (int n; (n = content.read(buf)) > 0; ) {
            empty = false;
            int from = 0;
            for (int i = 0; i < n; i++) {
                if (lineStart && buf[i] == '.') {
                    out.write(buf, from, i - from);
                    out.write('.');
                    from = i;
                }
                lineStart = buf[i] == '\n';
            }
            out.write(buf, from, n - from);
            last = buf[n - 1];
        }
        if (!empty && last != '\n') {
            out.write('\r');
            out.write('\n');
        }
        out.write('.');
        out.write('\r');
        out.write('\n');
    }

    /** The content with RFC 5321 dot-stuffing, ending in CRLF "." CRLF. */
    static byte[] dotStuffed(byte[] content) {
        int n = content.length;
        int dots = 0;
        for (int i = 0; i < n; i++) {
            if (content[i] == '.' && (i == 0 || content[i - 1] == '\n')) {
                dots++;
            }
        }
        boolean endsLine = n == 0 || content[n - 1] == '\n';
        byte[] out = new byte[n + dots + (endsLine ? 0 : 2) + 3];
        int o = 0;
        int from = 0;
        for (int i = 0; dots > 0 && i < n; i++) {
            if (content[i] == '.' && (i == 0 || content[i - 1] == '\n')) {
                System.arraycopy(content, from, out, o, i - from);
                o += i - from;
                out[o++] = '.';
                from = i;
                dots--;
            }
        }
        System.arraycopy(content, from, out, o, n - from);
        o += n - from;
        if (!endsLine) {
            out[o++] = '\r';
            out[o++] = '\n';
        }
        out[o++] = '.';
        out[o++] = '\r';
        out[o] = '\n';
        return out;
    }

    // ---- one connection ----

    private final class Connection {
        final NextHop hop;
        /** The name of the host that answers (the MX host, not the recipient's domain): a DSN's Remote-MTA. */
        final String remoteMta;
        final String hostText;
        final String relay;
        Socket socket;
        InputStream in;
        OutputStream out;
        boolean tls;
        Map<String, String> extensions = new HashMap<>();
        volatile long idleSince;

        Connection(NextHop hop, String remoteMta, String hostText, String relay) {
            this.hop = hop;
            this.remoteMta = remoteMta;
            this.hostText = hostText;
            this.relay = relay;
        }

        void attach(Socket s) throws IOException {
            socket = s;
            in = new BufferedInputStream(s.getInputStream());
            out = new BufferedOutputStream(s.getOutputStream());
        }

        void startTls(SSLContext ctx, String host, boolean checkName) throws IOException {
            SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(socket, host, socket.getPort(), true);
            ssl.setEnabledProtocols(PROTOCOLS);
            SSLParameters params = ssl.getSSLParameters();
            if (checkName) {
                params.setEndpointIdentificationAlgorithm("HTTPS");
            }
            if (!host.contains(":") && !Character.isDigit(host.charAt(host.length() - 1))) {
                params.setServerNames(List.of(new SNIHostName(host)));
            }
            ssl.setSSLParameters(params);
            ssl.setSoTimeout(replyTimeoutMillis);
            ssl.startHandshake();
            attach(ssl);
            tls = true;
            extensions = new HashMap<>();
        }

        SmtpReply ehlo(String name) throws IOException {
            SmtpReply r = command("EHLO " + name);
            if (!r.positive()) {
                extensions = new HashMap<>();
                return command("HELO " + name);
            }
            Map<String, String> ext = new HashMap<>();
            for (int i = 1; i < r.lines().size(); i++) {
                String line = r.lines().get(i).trim();
                int sp = line.indexOf(' ');
                String k = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
                ext.put(k, sp < 0 ? "" : line.substring(sp + 1).trim());
            }
            extensions = ext;
            return r;
        }

        /** Logs in with PLAIN (preferred) or LOGIN; null when the server offers neither. */
        SmtpReply authenticate(Credentials cred) throws IOException {
            String offered = extensions.get("AUTH");
            if (offered == null) {
                return null;
            }
            Set<String> mechs = new TreeSet<>();
            for (String m : offered.toUpperCase(Locale.ROOT).split("\\s+")) {
                mechs.add(m);
            }
            Base64.Encoder b64 = Base64.getEncoder();
            if (mechs.contains("PLAIN")) {
                String token = b64.encodeToString(("\0" + cred.username() + "\0" + cred.password())
                        .getBytes(StandardCharsets.UTF_8));
                return command("AUTH PLAIN " + token);
            }
            if (mechs.contains("LOGIN")) {
                SmtpReply r = command("AUTH LOGIN");
                if (r.code() != 334) {
                    return r;
                }
                r = command(b64.encodeToString(cred.username().getBytes(StandardCharsets.UTF_8)));
                if (r.code() != 334) {
                    return r;
                }
                return command(b64.encodeToString(cred.password().getBytes(StandardCharsets.UTF_8)));
            }
            return new SmtpReply(535, List.of("5.7.8 no supported mechanism (PLAIN, LOGIN) among: " + offered));
        }

        SmtpReply command(String line) throws IOException {
            write(line);
            flush();
            return read();
        }

        void write(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        }

        void writeRaw(byte[] bytes) throws IOException {
            out.write(bytes);
        }

        void flush() throws IOException {
            out.flush();
        }

        SmtpReply read() throws IOException {
            List<String> lines = new ArrayList<>();
            int code;
            while (true) {
                String line = readLine();
                if (line.length() < 3) {
                    throw new IOException("malformed reply");
                }
                try {
                    code = Integer.parseInt(line.substring(0, 3));
                } catch (NumberFormatException e) {
                    throw new IOException("malformed reply");
                }
                lines.add(line.length() > 4 ? line.substring(4) : "");
                if (line.length() == 3 || line.charAt(3) != '-') {
                    return new SmtpReply(code, lines);
                }
                if (lines.size() > 100) {
                    throw new IOException("reply too long");
                }
            }
        }

        private String readLine() throws IOException {
            ByteArrayOutputStream buf = new ByteArrayOutputStream(128);
            while (buf.size() < MAX_LINE) {
                int b = in.read();
                if (b < 0) {
                    throw new IOException("connection closed");
                }
                if (b == '\n') {
                    byte[] bytes = buf.toByteArray();
                    int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                    return new String(bytes, 0, len, StandardCharsets.UTF_8);
                }
                buf.write(b);
            }
            throw new IOException("reply line too long");
        }

        void quit() {
            try {
                socket.setSoTimeout(Math.min(replyTimeoutMillis, 5000));
                command("QUIT");
            } catch (IOException | RuntimeException ignored) {
                // QUIT is a courtesy; the socket is closed below either way.
            }
            close();
        }

        void close() {
            if (socket != null) {
                closeQuietly(socket);
            }
        }
    }
}
