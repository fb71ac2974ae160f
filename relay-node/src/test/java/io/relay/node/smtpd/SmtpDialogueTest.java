package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.queue.QueuedMessage;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scripted dialogues against a real SmtpServer on 127.0.0.1: every command and error path. */
class SmtpDialogueTest {
    @TempDir
    Path dir;
    private SmtpServerFixture fx;

    private SmtpServerFixture start(SmtpServerFixture.Options o) throws Exception {
        fx = new SmtpServerFixture(dir, o);
        return fx;
    }

    private SmtpServerFixture start() throws Exception {
        return start(SmtpServerFixture.Options.defaults());
    }

    @AfterEach
    void stop() {
        if (fx != null) {
            fx.close();
        }
    }

    @Test
    void ehloAdvertisesExtensionsAndHeloAnswersName() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("EHLO client.example");
            String r = c.expect("250-relay.test");
            assertEquals("250-relay.test\n250-PIPELINING\n250-SIZE 10485760\n250-STARTTLS\n"
                    + "250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250 SMTPUTF8", r);
            c.send("HELO client.example");
            c.expect("250 relay.test");
            c.send("EHLO");
            c.expect("501 5.5.4 Syntax: EHLO hostname");
            c.send("HELO");
            c.expect("501 5.5.4 Syntax: HELO hostname");
        }
    }

    @Test
    void fullTransactionIsQueuedWithReceivedHeaderAndLogged() throws Exception {
        start();
        String id;
        try (SmtpClient c = fx.client()) {
            c.send("ehlo web1.example");
            c.expect("250");
            c.send("MAIL FROM:<app@web.example>");
            c.expect("250 2.1.0 Ok");
            c.send("RCPT TO:<user@dest.example>");
            c.expect("250 2.1.5 Ok");
            c.send("DATA");
            c.expect("354 End data with <CR><LF>.<CR><LF>");
            c.raw("Subject: hi\r\n\r\n..dotted\r\nbody\r\n.\r\n");
            id = c.expect("250 2.0.0 Ok: queued as ").substring("250 2.0.0 Ok: queued as ".length());
            c.send("QUIT");
            c.expect("221 2.0.0 Bye");
        }
        assertEquals(1, fx.queue.accepted.size());
        QueuedMessage m = fx.queue.accepted.get(0);
        assertEquals(id, m.id().value());
        assertEquals("app@web.example", m.envelope().sender());
        assertEquals("127.0.0.1", m.envelope().clientAddress());
        assertEquals("ESMTP", m.envelope().protocol());
        String content = new String(m.content(), StandardCharsets.UTF_8);
        assertTrue(content.startsWith("Received: from web1.example (unknown [127.0.0.1])\r\n\tby relay.test (relay) with ESMTP id "
                + id + "\r\n\tfor <user@dest.example>; "), content);
        assertTrue(content.contains("\r\nMessage-ID: <"), content);
        assertTrue(content.endsWith("Subject: hi\r\n\r\n.dotted\r\nbody\r\n"), content);
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("relay/smtpd["), log);
        assertTrue(log.contains(": connect from unknown[127.0.0.1]"), log);
        assertTrue(log.contains(": " + id + ": client=unknown[127.0.0.1]"), log);
        assertTrue(log.contains("relay/cleanup[") && log.contains(id + ": message-id=<"), log);
        assertTrue(log.contains(id + ": from=<app@web.example>, size=" + m.size() + ", nrcpt=1 (queue active)"), log);
        assertTrue(log.contains("disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"), log);
    }

    @Test
    void sequenceErrors() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("MAIL FROM:<a@b.example>");
            c.expect("503 5.5.1 Error: send HELO/EHLO first");
            c.send("RCPT TO:<a@b.example>");
            c.expect("503 5.5.1 Error: send HELO/EHLO first");
            c.send("EHLO h");
            c.expect("250");
            c.send("RCPT TO:<a@b.example>");
            c.expect("503 5.5.1 Error: need MAIL command");
            c.send("DATA");
            c.expect("503 5.5.1 Error: need MAIL command");
            c.send("MAIL FROM:<>");
            c.expect("250 2.1.0");
            c.send("MAIL FROM:<a@b.example>");
            c.expect("503 5.5.1 Error: nested MAIL command");
            c.send("DATA");
            c.expect("503 5.5.1 Error: need RCPT command");
            c.send("RSET");
            c.expect("250 2.0.0 Ok");
            c.send("RCPT TO:<a@b.example>");
            c.expect("503 5.5.1 Error: need MAIL command");
        }
    }

    @Test
    void syntaxAndParameterErrors() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("EHLO h");
            c.expect("250");
            c.send("MAIL FROM:<a b@c>");
            c.expect("501 5.1.7 Bad sender address syntax");
            c.send("MAIL FROM:<a@b.example> BODY=BINARYMIME");
            c.expect("501 5.5.4 Bad BODY parameter");
            c.send("MAIL FROM:<a@b.example> FOO=1");
            c.expect("555 5.5.4 Unsupported option: FOO");
            c.send("MAIL FROM: <a@b.example> BODY=8BITMIME SIZE=100");
            c.expect("250 2.1.0 Ok");
            c.send("RCPT TO:<@x.example,@y.example:u@d.example>");
            c.expect("250 2.1.5 Ok");
            c.send("RCPT TO:<bad@>");
            c.expect("501 5.1.3 Bad recipient address syntax");
            c.send("RCPT TO:<u@d.example> NOTIFY=NEVER");
            c.expect("555 5.5.4 Unsupported option: NOTIFY");
            c.send("RCPT TO:<jörg@d.example>");
            c.expect("553 5.6.7");
            c.send("VRFY root");
            c.expect("252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery");
            c.send("HELP");
            c.expect("214 2.0.0");
            c.send("NOOP");
            c.expect("250 2.0.0 Ok");
            c.send("XYZZY");
            c.expect("502 5.5.2 Error: command not recognized");
            c.send("QUIT");
            c.expect("221 2.0.0 Bye");
        }
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("disconnect from unknown[127.0.0.1] ehlo=1 mail=1/4 rcpt=1/4 noop=1 vrfy=1 help=1 quit=1 unknown=0/1 commands=7/14"), log);
    }

    @Test
    void smtpUtf8TransactionAcceptsUnicodeAddresses() throws Exception {
        start();
        try (SmtpClient c = fx.client()) {
            c.send("EHLO h");
            c.expect("250");
            c.send("MAIL FROM:<jörg@bücher.example> SMTPUTF8");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<zoë@d.example>");
            c.expect("250 2.1.5");
            c.send("DATA");
            c.expect("354");
            c.raw("Subject: é\r\n\r\nx\r\n.\r\n");
            c.expect("250 2.0.0 Ok: queued as");
        }
        QueuedMessage m = fx.queue.accepted.get(0);
        assertEquals("jörg@bücher.example", m.envelope().sender());
        assertEquals(java.util.List.of("zoë@d.example"), m.envelope().recipients());
        assertTrue(m.envelope().smtpUtf8());
    }

    @Test
    void sizeLimitAtMailAndAtEndOfData() throws Exception {
        try (SmtpClient c = start(SmtpServerFixture.Options.defaults().sizeLimit(1000)).client()) {
            c.send("EHLO h");
            c.expect("250");
            c.send("MAIL FROM:<a@b.example> SIZE=1001");
            c.expect("552 5.3.4 Message size exceeds fixed limit");
            c.send("MAIL FROM:<a@b.example>");
            c.expect("250");
            c.send("RCPT TO:<u@d.example>");
            c.expect("250");
            c.send("DATA");
            c.expect("354");
            c.raw("Subject: big\r\n\r\n" + "x".repeat(78).concat("\r\n").repeat(50) + ".\r\n");
            c.expect("552 5.3.4 Error: message file too big");
            c.send("NOOP"); // the session goes on after the final dot
            c.expect("250");
        }
        assertEquals(0, fx.queue.accepted.size());
        assertTrue(fx.log().contains("NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 552 5.3.4 Message size exceeds fixed limit;"));
    }

    @Test
    void thousandAndFirstRecipientGets452() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("EHLO h");
            c.expect("250");
            StringBuilder batch = new StringBuilder("MAIL FROM:<a@b.example>\r\n");
            for (int i = 0; i < 1001; i++) {
                batch.append("RCPT TO:<u").append(i).append("@d.example>\r\n");
            }
            c.raw(batch.toString());
            c.expect("250 2.1.0");
            for (int i = 0; i < 1000; i++) {
                c.expect("250 2.1.5");
            }
            c.expect("452 4.5.3 Error: too many recipients");
            c.send("DATA");
            c.expect("354");
            c.raw("x\r\n.\r\n");
            c.expect("250 2.0.0 Ok: queued as");
        }
        assertEquals(1000, fx.queue.accepted.get(0).envelope().recipients().size());
    }

    @Test
    void pipelinedBatchIsAnsweredInOrderAcrossMessages() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("EHLO h");
            c.expect("250");
            c.raw("MAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250 2.1.0");
            c.expect("250 2.1.5");
            c.expect("354");
            // the message, then a whole second transaction and QUIT in the same write
            c.raw("one\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<v@d.example>\r\nRCPT TO:<w@d.example>\r\nNOOP\r\nQUIT\r\n");
            c.expect("250 2.0.0 Ok: queued as");
            c.expect("250 2.1.0");
            c.expect("250 2.1.5");
            c.expect("250 2.1.5");
            c.expect("250 2.0.0 Ok");
            c.expect("221");
        }
    }

    @Test
    void queueFullAtMailAndAtDataEndAndQueueError() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("EHLO h");
            c.expect("250");
            fx.queue.full = true;
            c.send("MAIL FROM:<a@b.example>");
            c.expect("452 4.3.1 Insufficient system storage");
            fx.queue.full = false;
            fx.queue.behaviour = InMemoryQueue.Behaviour.FULL_AT_ACCEPT;
            c.raw("MAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250");
            c.expect("250");
            c.expect("354");
            c.raw("x\r\n.\r\n");
            c.expect("452 4.3.1 Insufficient system storage");
            fx.queue.behaviour = InMemoryQueue.Behaviour.IO_ERROR;
            c.raw("MAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250");
            c.expect("250");
            c.expect("354");
            c.raw("x\r\n.\r\n");
            c.expect("451 4.3.0 Error: queue file write error");
        }
        assertEquals(0, fx.queue.accepted.size());
    }

    @Test
    void tooManyHopsIsRefused() throws Exception {
        try (SmtpClient c = start().client()) {
            c.raw("EHLO h\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250-");
            c.expect("250");
            c.expect("250");
            c.expect("354");
            c.raw("Received: from x by y; Sun, 22 Nov 2026 10:00:00 +0000\r\n".repeat(51) + "\r\nloop\r\n.\r\n");
            c.expect("554 5.4.6 Error: too many hops");
        }
        assertEquals(0, fx.queue.accepted.size());
    }

    /** smtpd.forbid-bare-newline: normalize (the default): the smuggling shape is content of one message. */
    @Test
    void bareLfInDataIsNormalizedAndTheSmugglingShapeIsOneMessage() throws Exception {
        try (SmtpClient c = start().client()) {
            c.raw("EHLO h\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250-");
            c.expect("250");
            c.expect("250");
            c.expect("354");
            // the smuggling shape: <LF>.<CR><LF> then a second transaction
            c.raw("x\n.\r\nMAIL FROM:<evil@b.example>\r\nRCPT TO:<v@d.example>\r\nDATA\r\nsmuggled\r\n.\r\n");
            c.expect("250 2.0.0 Ok: queued as ");
            c.send("QUIT");
            c.expect("221");
        }
        assertEquals(1, fx.queue.accepted.size());
        String content = new String(fx.queue.accepted.get(0).content(), StandardCharsets.US_ASCII);
        assertTrue(content.endsWith("\r\nx\r\n.\r\nMAIL FROM:<evil@b.example>\r\nRCPT TO:<v@d.example>\r\nDATA\r\nsmuggled\r\n"),
                content);
    }

    @Test
    void bareCrInDataIsRefused() throws Exception {
        try (SmtpClient c = start().client()) {
            c.raw("EHLO h\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250-");
            c.expect("250");
            c.expect("250");
            c.expect("354");
            c.raw("x\r.\r\n.\r\n");
            c.expect("521 5.5.2 relay.test Error: bare <CR> received");
            assertTrue(c.closedByServer());
        }
        assertEquals(0, fx.queue.accepted.size());
    }

    @Test
    void commandLineEndingInBareLfIsTakenByDefault() throws Exception {
        try (SmtpClient c = start().client()) {
            c.raw("EHLO h\n");
            c.expect("250-relay.test");
        }
    }

    @Test
    void tooLongLineIsRefusedAndSessionContinues() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("NOOP " + "x".repeat(3000));
            c.expect("500 5.5.2 Error: line too long");
            c.send("NOOP");
            c.expect("250 2.0.0 Ok");
        }
    }

    @Test
    void starttlsWithPipelinedCommandIsRefused() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("EHLO h");
            c.expect("250");
            c.raw("STARTTLS\r\nMAIL FROM:<injected@b.example>\r\n");
            c.expect("554 5.5.1 Error: pipelining after STARTTLS is not allowed");
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void starttlsBeforeEhloAndTlsHandshakeForgetsEhlo() throws Exception {
        start();
        try (SmtpClient c = fx.client()) {
            c.send("STARTTLS");
            c.expect("503 5.5.1 Error: send HELO/EHLO first");
            c.send("EHLO h");
            c.expect("250");
            c.send("STARTTLS");
            c.expect("220 2.0.0 Ready to start TLS");
            javax.net.ssl.SSLContext trustAll = javax.net.ssl.SSLContext.getInstance("TLS");
            trustAll.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
                public void checkClientTrusted(java.security.cert.X509Certificate[] x, String a) { }
                public void checkServerTrusted(java.security.cert.X509Certificate[] x, String a) { }
                public java.security.cert.X509Certificate[] getAcceptedIssuers() { return new java.security.cert.X509Certificate[0]; }
            }}, null);
            javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) trustAll.getSocketFactory()
                    .createSocket(c.socket, "127.0.0.1", c.socket.getPort(), true);
            tls.startHandshake();
            var in = new java.io.BufferedReader(new java.io.InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII));
            var out = tls.getOutputStream();
            out.write("MAIL FROM:<a@b.example>\r\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals("503 5.5.1 Error: send HELO/EHLO first", in.readLine());
            out.write("EHLO h\r\n".getBytes(StandardCharsets.US_ASCII));
            StringBuilder ehlo = new StringBuilder();
            String l;
            do {
                l = in.readLine();
                ehlo.append(l).append('\n');
            } while (l.charAt(3) == '-');
            assertFalse(ehlo.toString().contains("STARTTLS"), ehlo.toString());
            out.write("STARTTLS\r\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals("554 5.5.1 Error: TLS already active", in.readLine());
            out.write(("MAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n").getBytes(StandardCharsets.US_ASCII));
            assertTrue(in.readLine().startsWith("250"));
            assertTrue(in.readLine().startsWith("250"));
            assertTrue(in.readLine().startsWith("354"));
            out.write("secret\r\n.\r\n".getBytes(StandardCharsets.US_ASCII));
            assertTrue(in.readLine().startsWith("250 2.0.0 Ok: queued as"));
            tls.close();
        }
        assertEquals("ESMTPS", fx.queue.accepted.get(0).envelope().protocol());
        assertTrue(new String(fx.queue.accepted.get(0).content(), StandardCharsets.UTF_8).contains("with ESMTPS id"));
    }

    @Test
    void relayDeniedForClientOutsideMynetworksLogsPostfixLine() throws Exception {
        start(SmtpServerFixture.Options.defaults().relayDeniedOn("127.0.0.2", "127.0.0.1/32"));
        try (SmtpClient c = new SmtpClient(fx.address(), InetAddress.getByName("127.0.0.2"))) {
            c.expect("220");
            c.send("EHLO h");
            c.expect("250");
            c.send("MAIL FROM:<a@b>");
            c.expect("250");
            c.send("RCPT TO:<x@example.com>");
            c.expect("554 5.7.1 <x@example.com>: Relay access denied");
        }
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains(" relay/smtpd[" ) && log.contains("]: NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 "
                + "<x@example.com>: Relay access denied; from=<a@b> to=<x@example.com> proto=ESMTP helo=<h>\n"), log);
        assertTrue(log.contains("lost connection after RCPT from unknown[127.0.0.2]"), log);
        assertTrue(log.contains("disconnect from unknown[127.0.0.2] ehlo=1 mail=1 rcpt=0/1 commands=2/3"), log);
    }

    @Test
    void probeThatConnectsAndClosesLeavesNoMailLogLine() throws Exception {
        start();
        try (Socket s = new Socket()) {
            s.connect(fx.address(), 5000);
        }
        assertTrue(SmtpServerFixture.await(() -> fx.server.probeConnections() == 1));
        assertEquals("", fx.log());
    }

    @Test
    void idleTimeoutAnswers421AndLogs() throws Exception {
        try (SmtpClient c = start(SmtpServerFixture.Options.defaults().timeout(Duration.ofMillis(300))).client()) {
            c.send("EHLO h");
            c.expect("250");
            c.expect("421 4.4.2 relay.test Error: timeout exceeded");
            assertTrue(c.closedByServer());
        }
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("timeout after EHLO from unknown[127.0.0.1]"), log);
        assertFalse(log.contains("lost connection"), log);
    }

    @Test
    void connectionsOverTheLimitGet421() throws Exception {
        start(SmtpServerFixture.Options.defaults().maxConnections(1));
        try (SmtpClient first = fx.client(); Socket second = new Socket()) {
            second.connect(fx.address(), 5000);
            second.setSoTimeout(5000);
            byte[] buf = new byte[200];
            int n = second.getInputStream().read(buf);
            assertEquals("421 4.7.0 relay.test Error: too many connections\r\n", new String(buf, 0, n, StandardCharsets.US_ASCII));
            first.send("NOOP");
            first.expect("250");
        }
    }

    @Test
    void hardErrorLimitEndsTheSession() throws Exception {
        try (SmtpClient c = start().client()) {
            for (int i = 0; i < 20; i++) {
                c.send("BOGUS");
                c.expect("502");
            }
            c.send("NOOP");
            c.expect("421 4.7.0 relay.test Error: too many errors");
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void stopAcceptingKeepsOpenSessionsAndRefusesNewOnes() throws Exception {
        start();
        try (SmtpClient c = fx.client()) {
            InetSocketAddress a = fx.address();
            fx.server.stopAccepting();
            assertTrue(fx.server.boundAddresses().isEmpty());
            assertFalse(greets(a), "a new connection was served after stopAccepting()");
            c.send("NOOP");
            c.expect("250 2.0.0 Ok");
        }
    }

    @Test
    void lostConnectionInDataIsLoggedWithByteCount() throws Exception {
        try (SmtpClient c = start().client()) {
            c.raw("EHLO h\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250-");
            c.expect("250");
            c.expect("250");
            c.expect("354");
            c.raw("12345\r\n");
        }
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("lost connection after DATA (7 bytes) from unknown[127.0.0.1]"), log);
        assertTrue(log.contains("disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4"), log);
        assertEquals(0, fx.queue.accepted.size());
    }

    /** Whether a new connection to {@code a} gets a 220 greeting (refused, or silent as a rare self-connect, is no). */
    private static boolean greets(InetSocketAddress a) {
        try (Socket s = new Socket()) {
            s.connect(a, 2000);
            s.setSoTimeout(500);
            byte[] b = new byte[3];
            return s.getInputStream().read(b) == 3 && new String(b, StandardCharsets.US_ASCII).equals("220");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Test
    void boundAddressResolvesPortZero() throws Exception {
        InetSocketAddress a = start().address();
        assertTrue(a.getPort() > 0);
    }

    @Test
    void afterTheListenersCloseAnOpenSessionFinishesItsMessageThenGets421AtTheNextMail() throws Exception {
        try (SmtpClient c = start().client()) {
            c.send("EHLO h");
            c.expect("250");
            c.raw("MAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
            c.expect("250");
            c.expect("250");
            c.expect("354");
            fx.server.stopAccepting(); // the drain closes the listeners mid-transaction
            c.raw("x\r\n.\r\n");
            c.expect("250 2.0.0 Ok");
            c.send("MAIL FROM:<a@b.example>");
            c.expect("421 4.3.2 relay.test Service shutting down, closing transmission channel");
        }
    }
}
