package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.auth.AuthFailures;
import io.relay.node.auth.PasswordHash;
import io.relay.node.auth.SaslUser;
import io.relay.node.auth.SenderRates;
import io.relay.node.auth.SaslUsers;
import io.relay.node.cluster.AdminState;
import io.relay.node.cluster.ClusterSaslUsers;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scripted AUTH dialogues (RFC 4954) against a real SmtpServer: a client at 127.0.0.2, outside
 * mynetworks (127.0.0.1/32), on submission, submissions and port-25 listeners, with users
 * checked by their Argon2id hashes. The failure counter and the rate are small fakes of
 * their seams (pure logic; the cluster's are tested with the cluster).
 */
class SaslDialogueTest {
    static final String PASSWORD = "s3cret-Pw!x";
    static final String OUTSIDE = "127.0.0.2";
    private static SaslUsers users;

    @TempDir
    Path dir;
    private SmtpServerFixture fx;
    private final CountingFailures failures = new CountingFailures(3);
    private final AtomicInteger ratePermits = new AtomicInteger(1);

    /** Failed attempts per client, locked at {@code limit} (the cluster's counter's contract, without a window). */
    static final class CountingFailures implements AuthFailures {
        final Map<InetAddress, AtomicInteger> counts = new ConcurrentHashMap<>();
        final int limit;

        CountingFailures(int limit) {
            this.limit = limit;
        }

        @Override
        public boolean locked(InetAddress client) {
            return counts.getOrDefault(client, new AtomicInteger()).get() >= limit;
        }

        @Override
        public void failed(InetAddress client) {
            counts.computeIfAbsent(client, c -> new AtomicInteger()).incrementAndGet();
        }
    }

    @BeforeAll
    static void users() {
        String hash = PasswordHash.hash(PASSWORD);
        ClusterSaslUsers table = new ClusterSaslUsers();
        table.apply(new AdminState(1, 0, List.of(), List.of()).withUsers(Map.of(
                "webapp", new AdminState.User(hash, List.of("@web.example", "ops@other.example"), List.of()),
                "any", new AdminState.User(hash, List.of(), List.of()),
                "rated", new AdminState.User(hash, List.of(), List.of("1/m")))));
        users = table;
    }

    @AfterEach
    void stop() {
        if (fx != null) {
            fx.close();
        }
    }

    private SaslServices sasl() {
        SenderRates rates = (SaslUser user) -> ratePermits.getAndDecrement() > 0;
        return new SaslServices(users, failures, rates);
    }

    private SmtpServerFixture start(ListenerRole role, boolean authOffered) throws Exception {
        fx = new SmtpServerFixture(dir, SmtpServerFixture.Options.defaults(), role, authOffered, sasl());
        return fx;
    }

    private SmtpClient connect(String from) throws IOException {
        SmtpClient c = new SmtpClient(fx.address(), InetAddress.getByName(from));
        c.expect("220 " + SmtpServerFixture.HOST + " ESMTP");
        return c;
    }

    /** Connected from outside mynetworks, STARTTLS done, EHLO again: where AUTH is offered. */
    private SmtpClient secured() throws IOException {
        SmtpClient c = connect(OUTSIDE);
        c.send("EHLO app.example");
        c.expect("250");
        c.send("STARTTLS");
        c.expect("220 2.0.0 Ready to start TLS");
        c.startTls();
        c.send("EHLO app.example");
        c.expect("250");
        return c;
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static String plain(String user, String password) {
        return b64("\0" + user + "\0" + password);
    }

    private void assertNoSecretLogged() throws Exception {
        String log = fx.awaitLog("disconnect from");
        assertFalse(log.contains(PASSWORD), log);
        assertFalse(log.contains("wrong-" + PASSWORD), log);
        assertFalse(log.contains(b64(PASSWORD)), log);
        assertFalse(log.contains(plain("webapp", PASSWORD)), log);
    }

    @Test
    void authIsOfferedOnlyAfterTls() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = connect(OUTSIDE)) {
            c.send("EHLO app.example");
            String clear = c.expect("250-relay.test");
            assertFalse(clear.contains("AUTH"), clear);
            assertTrue(clear.contains("STARTTLS"), clear);
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("538 5.7.11 Encryption required for requested authentication mechanism");
            c.send("STARTTLS");
            c.expect("220 2.0.0 Ready to start TLS");
            c.startTls();
            c.send("EHLO app.example");
            assertEquals("250-relay.test\n250-PIPELINING\n250-SIZE 10485760\n250-AUTH PLAIN LOGIN\n"
                    + "250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250 SMTPUTF8", c.expect("250-relay.test"));
        }
    }

    @Test
    void submissionWantsAuthBeforeMailFromOutsideMynetworks() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.send("MAIL FROM:<app@web.example>");
            c.expect("530 5.7.0 Authentication required");
            c.send("QUIT");
            c.expect("221");
        }
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("NOQUEUE: reject: MAIL from unknown[127.0.0.2]: 530 5.7.0 Authentication required;"
                + " from=<app@web.example> proto=ESMTP helo=<app.example>"), log);
        assertEquals(0, fx.queue.accepted.size());
    }

    @Test
    void submissionLetsMynetworksSendWithoutAuth() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = connect("127.0.0.1")) {
            c.send("EHLO app.example");
            c.expect("250");
            c.send("MAIL FROM:<app@web.example>");
            c.expect("250 2.1.0 Ok");
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("538 5.7.11"); // still clear text
            c.send("RCPT TO:<u@dest.example>");
            c.expect("250 2.1.5 Ok");
        }
    }

    @Test
    void plainWithInitialResponseRelaysAnywhereAndIsLogged() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("235 2.7.0 Authentication successful");
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("503 5.5.1 Error: already authenticated");
            c.send("MAIL FROM:<app@web.example>");
            c.expect("250 2.1.0 Ok");
            c.send("RCPT TO:<u@dest.example>");
            c.expect("250 2.1.5 Ok");
            c.send("DATA");
            c.expect("354");
            c.raw("Subject: hi\r\n\r\nbody\r\n.\r\n");
            c.expect("250 2.0.0 Ok: queued as ");
            c.send("QUIT");
            c.expect("221");
        }
        assertEquals(1, fx.queue.accepted.size());
        assertEquals("ESMTPSA", fx.queue.accepted.get(0).envelope().protocol());
        String content = new String(fx.queue.accepted.get(0).content(), StandardCharsets.UTF_8);
        assertTrue(content.contains(" with ESMTPSA id "), content);
        assertFalse(content.contains("webapp"), content); // the user name is not disclosed in the header
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.matches("(?s).*[0-9A-F]+: client=unknown\\[127\\.0\\.0\\.2\\], sasl_method=PLAIN, sasl_username=webapp\n.*"), log);
        assertTrue(log.contains("auth=1/2"), log);
        assertNoSecretLogged();
        assertEquals(1.0, counter("relay_smtp_auth_attempts_total", "PLAIN", "success"));
    }

    @Test
    void plainWithoutInitialResponseAndLoginWithTwoPrompts() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.send("AUTH PLAIN");
            assertEquals("334", c.reply());
            c.send(plain("any", PASSWORD));
            c.expect("235 2.7.0 Authentication successful");
        }
        try (SmtpClient c = secured()) {
            c.send("AUTH LOGIN");
            c.expect("334 VXNlcm5hbWU6");
            c.send(b64("any"));
            c.expect("334 UGFzc3dvcmQ6");
            c.send(b64(PASSWORD));
            c.expect("235 2.7.0 Authentication successful");
            c.send("MAIL FROM:<whoever@anywhere.example>"); // a user without senders may use any
            c.expect("250 2.1.0 Ok");
        }
        assertNoSecretLogged();
    }

    @Test
    void wrongPasswordIsA535AndAPostfixWarning() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.send("AUTH LOGIN " + b64("webapp"));
            c.expect("334 UGFzc3dvcmQ6");
            c.send(b64("wrong-" + PASSWORD));
            c.expect("535 5.7.8 Error: authentication failed: authentication failure");
            c.send("AUTH PLAIN " + plain("nobody", PASSWORD));
            c.expect("535 5.7.8 Error: authentication failed: authentication failure");
            c.send("MAIL FROM:<app@web.example>");
            c.expect("530 5.7.0 Authentication required");
            c.send("QUIT");
            c.expect("221");
        }
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("relay/smtpd[" + ProcessHandle.current().pid()
                + "]: warning: unknown[127.0.0.2]: SASL LOGIN authentication failed: authentication failure"), log);
        assertTrue(log.contains("warning: unknown[127.0.0.2]: SASL PLAIN authentication failed: authentication failure"), log);
        assertEquals(2, failures.counts.get(InetAddress.getByName(OUTSIDE)).get());
        assertNoSecretLogged();
        assertEquals(1.0, counter("relay_smtp_auth_attempts_total", "LOGIN", "failure"));
    }

    @Test
    void cancelBadBase64UnknownMechanismAndAuthInATransaction() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.send("AUTH LOGIN");
            c.expect("334 VXNlcm5hbWU6");
            c.send("*");
            c.expect("501 5.7.0 Authentication aborted");
            c.send("AUTH PLAIN");
            c.expect("334");
            c.send("%%%not base64%%%");
            c.expect("501 5.5.2 Cannot decode response");
            c.send("AUTH PLAIN !!!!");
            c.expect("501 5.5.2 Cannot decode AUTH parameter");
            c.send("AUTH CRAM-MD5");
            c.expect("504 5.5.4 Unsupported authentication mechanism");
            c.send("AUTH");
            c.expect("501 5.5.4 Syntax: AUTH mechanism");
            c.send("NOOP"); // the session reads commands again
            c.expect("250 2.0.0 Ok");
            c.send("QUIT");
            c.expect("221");
        }
        // each AUTH counted once, none of them a success
        assertTrue(fx.awaitLog("disconnect from").contains(" auth=0/5 "), fx.log());
        assertTrue(failures.counts.isEmpty(), "a cancel is not a failed login");
        try (SmtpClient c = connect("127.0.0.1")) { // mynetworks: MAIL without AUTH, then AUTH inside it
            c.send("EHLO app.example");
            c.expect("250");
            c.send("STARTTLS");
            c.expect("220");
            c.startTls();
            c.send("EHLO app.example");
            c.expect("250");
            c.send("MAIL FROM:<app@web.example>");
            c.expect("250");
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("503 5.5.1 Error: MAIL transaction in progress");
        }
    }

    @Test
    void senderTheUserDoesNotOwnIs553() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("235");
            c.send("MAIL FROM:<ceo@bank.example>");
            c.expect("553 5.7.1 <ceo@bank.example>: Sender address rejected: not owned by user webapp");
            c.send("MAIL FROM:<>");
            c.expect("553 5.7.1 <>: Sender address rejected: not owned by user webapp");
            c.send("MAIL FROM:<ops@OTHER.example>");
            c.expect("250 2.1.0 Ok");
        }
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("NOQUEUE: reject: MAIL from unknown[127.0.0.2]: 553 5.7.1 <ceo@bank.example>: Sender address"
                + " rejected: not owned by user webapp; from=<ceo@bank.example> proto=ESMTP helo=<app.example>"), log);
    }

    @Test
    void userOverItsRateIs450() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.send("AUTH PLAIN " + plain("rated", PASSWORD));
            c.expect("235");
            c.send("MAIL FROM:<a@web.example>");
            c.expect("250 2.1.0 Ok");
            c.send("RSET");
            c.expect("250");
            // pipelined behind the refused MAIL: answered in order once the rate has answered
            c.raw("MAIL FROM:<a@web.example>\r\nNOOP\r\n");
            c.expect("450 4.7.1 <a@web.example>: Sender address rejected: user rated is over its send rate");
            c.expect("250 2.0.0 Ok");
        }
    }

    @Test
    void pipelinedAuthPlainMailAndRcptAreAnsweredInOrder() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            c.raw("AUTH PLAIN " + plain("webapp", PASSWORD) + "\r\nMAIL FROM:<app@web.example>\r\nRCPT TO:<u@dest.example>\r\n");
            c.expect("235 2.7.0 Authentication successful");
            c.expect("250 2.1.0 Ok");
            c.expect("250 2.1.5 Ok");
        }
    }

    @Test
    void lockedOutAfterTooManyFailures() throws Exception {
        start(ListenerRole.SUBMISSION, true);
        try (SmtpClient c = secured()) {
            for (int i = 0; i < 3; i++) {
                c.send("AUTH PLAIN " + plain("webapp", "wrong-" + PASSWORD));
                c.expect("535 5.7.8");
            }
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD)); // right, but too late
            c.expect("454 4.7.0 Temporary authentication failure: too many failures");
        }
        try (SmtpClient c = new SmtpClient(fx.address(), InetAddress.getByName(OUTSIDE))) {
            c.expect("421 4.7.0 relay.test Error: too many failed authentications; try again later");
            assertTrue(c.closedByServer());
        }
        try (SmtpClient c = connect("127.0.0.1")) { // mynetworks is never locked out
            c.send("QUIT");
        }
        String log = fx.awaitLog("NOQUEUE: reject: CONNECT");
        assertTrue(log.contains("NOQUEUE: reject: CONNECT from unknown[127.0.0.2]: 421 4.7.0 relay.test Error: too many"
                + " failed authentications; try again later"), log);
        assertEquals(1.0, counter("relay_smtp_auth_lockouts_total", "127.0.0.1:0", "connect")); // the configured address
        assertEquals(1.0, counter("relay_smtp_auth_lockouts_total", "127.0.0.1:0", "auth"));
        assertNoSecretLogged();
    }

    @Test
    void behindALoadBalancerThePROXYSourceIsCountedAndLoggedAndLockedOut() throws Exception {
        fx = new SmtpServerFixture(dir, SmtpServerFixture.Options.defaults(),
                new ProxyProtocolSettings(List.of("127.0.0.0/8"), true), ListenerRole.SUBMISSIONS, sasl());
        InetAddress client = InetAddress.getByName("203.0.113.9");
        for (int i = 0; i < 4; i++) {
            try (SmtpClient c = new SmtpClient(fx.address())) {
                // the load balancer's header in clear, then the client's TLS (RFC 8314 behind an NLB)
                c.raw("PROXY TCP4 203.0.113.9 198.51.100.1 40000 465\r\n");
                c.startTls();
                if (i == 3) { // the fourth connection of a locked-out client: refused before the greeting
                    c.expect("421 4.7.0 relay.test Error: too many failed authentications; try again later");
                    continue;
                }
                c.expect("220 relay.test ESMTP");
                c.send("EHLO app.example");
                c.expect("250");
                c.send("AUTH PLAIN " + plain("webapp", "wrong-" + PASSWORD));
                c.expect("535 5.7.8");
            }
        }
        assertEquals(3, failures.counts.get(client).get());
        assertFalse(failures.counts.containsKey(InetAddress.getByName("127.0.0.1")), "not the load balancer's address");
        String log = fx.awaitLog("reject: CONNECT");
        assertTrue(log.contains("warning: unknown[203.0.113.9]: SASL PLAIN authentication failed: authentication failure"),
                log);
        assertTrue(log.contains("NOQUEUE: reject: CONNECT from unknown[203.0.113.9]: 421 4.7.0"), log);
    }

    @Test
    void submissionsSpeaksTlsFromTheFirstByte() throws Exception {
        start(ListenerRole.SUBMISSIONS, true);
        try (SmtpClient c = new SmtpClient(fx.address(), InetAddress.getByName(OUTSIDE))) {
            c.startTls();
            c.expect("220 relay.test ESMTP");
            c.send("EHLO app.example");
            String ehlo = c.expect("250-relay.test");
            assertTrue(ehlo.contains("250-AUTH PLAIN LOGIN"), ehlo);
            assertFalse(ehlo.contains("STARTTLS"), ehlo);
            c.send("AUTH LOGIN");
            c.expect("334 VXNlcm5hbWU6");
            c.send(b64("webapp"));
            c.expect("334 UGFzc3dvcmQ6");
            c.send(b64(PASSWORD));
            c.expect("235");
            c.send("MAIL FROM:<app@web.example>");
            c.expect("250");
        }
    }

    @Test
    void port25WithoutSaslAuthEnableIsAsBefore() throws Exception {
        start(ListenerRole.MTA, false);
        try (SmtpClient c = secured()) {
            c.send("EHLO app.example");
            String ehlo = c.expect("250-relay.test");
            assertFalse(ehlo.contains("AUTH"), ehlo);
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("503 5.5.1 Error: authentication not enabled");
            c.send("MAIL FROM:<app@web.example>"); // no 530 on port 25
            c.expect("250 2.1.0 Ok");
            c.send("RCPT TO:<u@dest.example>");
            c.expect("554 5.7.1 <u@dest.example>: Relay access denied");
        }
    }

    @Test
    void port25WithSaslAuthEnableRelaysForAnAuthenticatedClient() throws Exception {
        start(ListenerRole.MTA, true);
        try (SmtpClient c = secured()) {
            c.send("MAIL FROM:<app@web.example>");
            c.expect("250 2.1.0 Ok");
            c.send("RCPT TO:<u@dest.example>");
            c.expect("554 5.7.1 <u@dest.example>: Relay access denied");
            c.send("RSET");
            c.expect("250");
            c.send("AUTH PLAIN " + plain("webapp", PASSWORD));
            c.expect("235");
            c.send("MAIL FROM:<app@web.example>");
            c.expect("250 2.1.0 Ok");
            c.send("RCPT TO:<u@dest.example>");
            c.expect("250 2.1.5 Ok");
        }
    }

    private double counter(String name, String... labels) {
        var snapshots = fx.metrics.registry().scrape();
        for (var s : snapshots) {
            if (s.getMetadata().getPrometheusName().equals(name.replace("_total", ""))
                    || s.getMetadata().getName().equals(name.replace("_total", ""))) {
                for (var d : s.getDataPoints()) {
                    var l = d.getLabels();
                    boolean all = true;
                    for (int i = 0; i < labels.length; i++) {
                        all &= labels[i].equals(l.getValue(i));
                    }
                    if (all && d instanceof io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot c) {
                        return c.getValue();
                    }
                }
            }
        }
        return -1;
    }

}
