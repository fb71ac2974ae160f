package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.relay.node.testing.UpstreamCertificate;
import io.relay.queue.MessageBody;
import io.relay.routing.Credentials;
import io.relay.routing.NextHop;
import io.relay.routing.TlsLevel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the outbound client writes, byte for byte: EHLO, STARTTLS and AUTH (PLAIN, LOGIN),
 * MAIL/RCPT/DATA pipelined in one write when offered and in lockstep when not, the MAIL
 * parameters, and DATA with dot-stuffing and the final "." line. The server is a script on
 * loopback that records the raw bytes.
 */
class SmtpClientWireTest {
    private static final String EHLO_REPLY = "250 mx.test\n250 PIPELINING\n250 SIZE 10485760\n250 8BITMIME";
    /** Lines that start with a dot, a lone dot, and a last line without its CRLF. */
    private static final String CONTENT = "Subject: dots\r\n\r\n.leading\r\n.\r\n..two\r\nnot.at.start\r\nlast";
    private static final String STUFFED = "Subject: dots\r\n\r\n..leading\r\n..\r\n...two\r\nnot.at.start\r\nlast\r\n"
            + ".\r\n";
    /** The transaction after a login: "hi" to a@example.net, plain MAIL FROM (no SIZE offered), QUIT. */
    private static final String HI_TO_A = "MAIL FROM:<sender@example.com>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n"
            + "hi\r\n.\r\nQUIT\r\n";
    private static final Credentials ALICE = new Credentials("[127.0.0.1]", "alice", "s3cret-Pa55word");

    @TempDir
    static Path dir;
    static SSLContext serverTls;

    private SmtpClient client;
    private ScriptedUpstream upstream;

    @BeforeAll
    static void certificate() throws Exception {
        UpstreamCertificate cert = UpstreamCertificate.create(dir, "mx", "DNS:localhost");
        serverTls = ((JdkSslContext) SslContextBuilder.forServer(cert.certPem().toFile(), cert.keyPem().toFile())
                .sslProvider(SslProvider.JDK).protocols("TLSv1.3", "TLSv1.2").build()).context();
    }

    @BeforeEach
    void open() throws Exception {
        client = new SmtpClient("relay.test", Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(2),
                new AddressRecordResolver());
        upstream = new ScriptedUpstream().tls(serverTls);
    }

    @AfterEach
    void closeBoth() throws Exception {
        client.close();
        upstream.close();
    }

    private SmtpDelivery send(TlsLevel tls, Credentials cred, List<String> rcpts, MessageBody content,
                              boolean smtpUtf8) {
        return client.deliver(new NextHop("127.0.0.1", upstream.port(), false),
                new SmtpClient.Policy(tls, null, cred, false), "sender@example.com", rcpts, content, smtpUtf8, false,
                SmtpClient.TransactionGate.OPEN);
    }

    private static MessageBody inMemory(String content) {
        return new MessageBody.InMemory(content.getBytes(StandardCharsets.UTF_8));
    }

    private void assertAllSent(SmtpDelivery d) {
        d.results().forEach(r -> assertEquals(RecipientResult.Status.SENT, r.status(), d + "; upstream: "
                + upstream.failure()));
    }

    @Test
    void pipeliningSendsMailEveryRcptAndDataBeforeAnyReply() throws Exception {
        // The second step answers only after MAIL, both RCPTs and DATA: a client that waited
        // for the MAIL reply would never get one.
        upstream.after(1, EHLO_REPLY)
                .after(4, "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>")
                .afterData("250 2.0.0 Ok: queued as 4A1")
                .after(1, "221 2.0.0 Bye")
                .start("220 mx.test ESMTP");

        SmtpDelivery d = send(TlsLevel.NONE, null, List.of("a@example.net", "b@example.net"), inMemory(CONTENT),
                false);

        assertAllSent(d);
        assertEquals("EHLO relay.test\r\n"
                + "MAIL FROM:<sender@example.com> SIZE=" + CONTENT.length() + "\r\n"
                + "RCPT TO:<a@example.net>\r\n"
                + "RCPT TO:<b@example.net>\r\n"
                + "DATA\r\n"
                + STUFFED
                + "QUIT\r\n", upstream.transcript());
    }

    @Test
    void withoutPipeliningEachCommandWaitsForItsReply() throws Exception {
        upstream.after(1, "250 mx.test\n250 SIZE 10485760")
                .after(1, "250 2.1.0 Ok")
                .after(1, "250 2.1.5 Ok")
                .after(1, "354 go ahead")
                .afterData("250 2.0.0 Ok")
                .after(1, "221 2.0.0 Bye")
                .start("220 mx.test ESMTP");

        SmtpDelivery d = send(TlsLevel.NONE, null, List.of("a@example.net"), inMemory(CONTENT), false);

        assertAllSent(d);
        assertEquals("EHLO relay.test\r\n"
                + "MAIL FROM:<sender@example.com> SIZE=" + CONTENT.length() + "\r\n"
                + "RCPT TO:<a@example.net>\r\n"
                + "DATA\r\n"
                + STUFFED
                + "QUIT\r\n", upstream.transcript());
        assertFalse(upstream.moreWaitingAtEachReply().contains(true),
                "the client wrote ahead of a reply: " + upstream.moreWaitingAtEachReply());
    }

    @Test
    void eightBitAndSmtpUtf8ContentAddTheirMailParameters() throws Exception {
        String content = "Subject: caf\u00e9\r\n\r\n\u00fcber\r\n";
        int size = content.getBytes(StandardCharsets.UTF_8).length;
        upstream.after(1, EHLO_REPLY + "\n250 SMTPUTF8")
                .after(3, "250 Ok", "250 Ok", "354 go ahead")
                .afterData("250 Ok")
                .after(1, "221 Bye")
                .start("220 mx.test ESMTP");

        SmtpDelivery d = send(TlsLevel.NONE, null, List.of("j\u00fcrgen@example.net"), inMemory(content), true);

        assertAllSent(d);
        String utf8 = "EHLO relay.test\r\n"
                + "MAIL FROM:<sender@example.com> SIZE=" + size + " BODY=8BITMIME SMTPUTF8\r\n"
                + "RCPT TO:<j\u00fcrgen@example.net>\r\n"
                + "DATA\r\n"
                + content + ".\r\n"
                + "QUIT\r\n";
        assertEquals(new String(utf8.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1),
                upstream.transcript());
    }

    @Test
    void authPlainAfterStartTlsAndASecondEhlo() throws Exception {
        upstream.after(1, "250 mx.test\n250 PIPELINING\n250 STARTTLS")
                .startTls()
                .after(1, "250 mx.test\n250 PIPELINING\n250 AUTH PLAIN LOGIN")
                .after(1, "235 2.7.0 Authentication successful")
                .after(3, "250 Ok", "250 Ok", "354 go ahead")
                .afterData("250 Ok")
                .after(1, "221 Bye")
                .start("220 mx.test ESMTP");

        SmtpDelivery d = send(TlsLevel.ENCRYPT, ALICE, List.of("a@example.net"), inMemory("hi\r\n"), false);

        assertAllSent(d);
        String token = Base64.getEncoder().encodeToString("\0alice\0s3cret-Pa55word".getBytes(StandardCharsets.UTF_8));
        assertEquals("EHLO relay.test\r\n"
                + "STARTTLS\r\n"
                + "EHLO relay.test\r\n"
                + "AUTH PLAIN " + token + "\r\n"
                + HI_TO_A, upstream.transcript());
    }

    @Test
    void authLoginWhenPlainIsNotOffered() throws Exception {
        upstream.after(1, "250 mx.test\n250 STARTTLS")
                .startTls()
                .after(1, "250 mx.test\n250 AUTH LOGIN")
                .after(1, "334 VXNlcm5hbWU6")
                .after(1, "334 UGFzc3dvcmQ6")
                .after(1, "235 2.7.0 Authentication successful")
                .after(1, "250 Ok")
                .after(1, "250 Ok")
                .after(1, "354 go ahead")
                .afterData("250 Ok")
                .after(1, "221 Bye")
                .start("220 mx.test ESMTP");

        SmtpDelivery d = send(TlsLevel.ENCRYPT, ALICE, List.of("a@example.net"), inMemory("hi\r\n"), false);

        assertAllSent(d);
        Base64.Encoder b64 = Base64.getEncoder();
        assertEquals("EHLO relay.test\r\n"
                + "STARTTLS\r\n"
                + "EHLO relay.test\r\n"
                + "AUTH LOGIN\r\n"
                + b64.encodeToString("alice".getBytes(StandardCharsets.UTF_8)) + "\r\n"
                + b64.encodeToString("s3cret-Pa55word".getBytes(StandardCharsets.UTF_8)) + "\r\n"
                + HI_TO_A, upstream.transcript());
    }

    @Test
    void aMessageOnDiskIsDotStuffedAsItStreams() throws Exception {
        // The prefix (headers this node added) and the file meet mid-line; dots at the start of
        // the file's lines, and one right after the prefix's last CRLF, are stuffed all the same.
        Path file = dir.resolve("body.eml");
        Files.writeString(file, ".first\r\nmiddle\r\n.\r\nend\r\n", StandardCharsets.US_ASCII);
        byte[] prefix = "Received: from x\r\n".getBytes(StandardCharsets.US_ASCII);
        MessageBody onDisk = new MessageBody.OnDisk(prefix, file, Files.size(file));
        upstream.after(1, EHLO_REPLY)
                .after(3, "250 Ok", "250 Ok", "354 go ahead")
                .afterData("250 Ok")
                .after(1, "221 Bye")
                .start("220 mx.test ESMTP");

        SmtpDelivery d = send(TlsLevel.NONE, null, List.of("a@example.net"), onDisk, false);

        assertAllSent(d);
        assertEquals("EHLO relay.test\r\n"
                + "MAIL FROM:<sender@example.com> SIZE=" + onDisk.length() + "\r\n"
                + "RCPT TO:<a@example.net>\r\n"
                + "DATA\r\n"
                + "Received: from x\r\n..first\r\nmiddle\r\n..\r\nend\r\n.\r\n"
                + "QUIT\r\n", upstream.transcript());
    }
}
