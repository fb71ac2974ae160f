package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.auth.PasswordHash;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.PostfixInstance;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 20 end to end with real clients: a node whose mynetworks is 127.0.0.1/32 only, with a
 * submission (STARTTLS) and a submissions (implicit TLS) listener beside port 25, users from a
 * {@code smtpd.sasl-users-file} of Argon2id hashes, an aiosmtpd upstream; swaks from 127.0.0.2
 * (outside mynetworks) with {@code --auth PLAIN}/{@code LOGIN}, and Postfix relaying through
 * the submission port with {@code smtp_sasl_auth_enable}. Every message is counted at the
 * upstream; the node's logs are searched for the password.
 */
class SubmissionEndToEndTest {
    private static final String USER = "webapp";
    private static final String PASSWORD = "Corr3ct-Horse-b4ttery";
    private static final String OUTSIDE = "127.0.0.2";
    /** The swaks transcripts of the refusals, for the closing note. */
    private static final Path TRANSCRIPTS = Path.of("/work/wt/auth-transcripts.txt");

    private record Node(NodeProcess process, int smtp, int submission, int submissions) {}

    private static Node start(Path dir, int upstreamPort) throws Exception {
        Path users = dir.resolve("sasl-users");
        Files.writeString(users, "# NAME:HASH:SENDERS\n" + USER + ":" + PasswordHash.hash(PASSWORD) + ":@web.example\n");
        int smtp = Ports.free();
        int submission = Ports.free();
        int submissions = Ports.free();
        String yaml = NodeYaml.in(dir.resolve("node"), smtp).with(RelayYaml.relayingTo(upstreamPort)
                .hostname("relay-under-test.test").trust("127.0.0.1/32").quickRetries()
                .set("smtpd.submission.listen", "[\"127.0.0.1:" + submission + "\"]")
                .set("smtpd.submissions.listen", "[\"127.0.0.1:" + submissions + "\"]")
                .set("smtpd.sasl-users-file", users).text());
        NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp);
        Ports.awaitOpen(submission, Duration.ofSeconds(10));
        Ports.awaitOpen(submissions, Duration.ofSeconds(10));
        return new Node(node, smtp, submission, submissions);
    }

    /** swaks with its whole transcript (the password hidden), from {@code local} to 127.0.0.1:port. */
    private static Tools.Run swaks(int port, String local, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Tools.SWAKS, "--server", "127.0.0.1:" + port,
                "--local-interface", local, "--helo", "app.example", "--to", "someone@dest.example",
                "--timeout", "30", "--auth-hide-password"));
        cmd.addAll(List.of(args));
        return Tools.run(Duration.ofSeconds(60), cmd.toArray(String[]::new));
    }

    private static String[] auth(String mechanism, String password) {
        return new String[] {"--auth", mechanism, "--auth-user", USER, "--auth-password", password};
    }

    private static void keep(String title, String transcript) throws IOException {
        Files.writeString(TRANSCRIPTS, "==== " + title + "\n" + transcript.stripTrailing() + "\n\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static String[] concat(String[] a, String... b) {
        return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
    }

    @Test
    void swaksWithAuthIsDeliveredAndEveryRefusalDeliversNothing(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS, Tools.PFLOGSUMM);
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        Files.deleteIfExists(TRANSCRIPTS);
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir.resolve("up")).start()) {
            Node n = start(dir, upstream.port());
            try (NodeProcess node = n.process()) {
                String from = "--from";
                // accepted: PLAIN and LOGIN, STARTTLS on submission and implicit TLS on submissions
                for (String[] run : List.of(
                        concat(auth("PLAIN", PASSWORD), "--tls", from, "app@web.example"),
                        concat(auth("LOGIN", PASSWORD), "--tls", from, "app@web.example"))) {
                    Tools.Run r = swaks(n.submission(), OUTSIDE, run);
                    assertEquals(0, r.exit(), r.output());
                    assertTrue(r.output().contains("235 2.7.0 Authentication successful"), r.output());
                }
                for (String[] run : List.of(
                        concat(auth("PLAIN", PASSWORD), "--tlsc", from, "app@web.example"),
                        concat(auth("LOGIN", PASSWORD), "--tlsc", from, "app@web.example"))) {
                    Tools.Run r = swaks(n.submissions(), OUTSIDE, run);
                    assertEquals(0, r.exit(), r.output());
                    assertTrue(r.output().contains("235 2.7.0 Authentication successful"), r.output());
                }
                // port 25 from mynetworks, as before: no AUTH needed
                assertEquals(0, swaks(n.smtp(), "127.0.0.1", from, "app@web.example").exit());

                // refused, each with its transcript
                Tools.Run noAuth = swaks(n.submission(), OUTSIDE, "--tls", from, "app@web.example");
                keep("submission (587) with STARTTLS, no AUTH, from 127.0.0.2", noAuth.output());
                assertNotEquals(0, noAuth.exit());
                assertTrue(noAuth.output().contains("530 5.7.0 Authentication required"), noAuth.output());

                Tools.Run wrong = swaks(n.submission(), OUTSIDE, concat(auth("LOGIN", "wrong-" + PASSWORD), "--tls",
                        from, "app@web.example"));
                keep("submission (587), AUTH LOGIN with a wrong password", wrong.output());
                assertTrue(wrong.output().contains("535 5.7.8 Error: authentication failed: authentication failure"),
                        wrong.output());

                String beforeTls = clearTextAuth(n.submission());
                keep("submission (587), AUTH PLAIN before STARTTLS (a plain socket: swaks sends no AUTH that was not"
                        + " offered)", beforeTls);
                assertTrue(beforeTls.contains("538 5.7.11 Encryption required for requested authentication mechanism"),
                        beforeTls);

                Tools.Run notOwned = swaks(n.submissions(), OUTSIDE, concat(auth("PLAIN", PASSWORD), "--tlsc", from,
                        "ceo@bank.example"));
                keep("submissions (465), AUTH PLAIN, a sender the user does not own", notOwned.output());
                assertTrue(notOwned.output().contains(
                        "553 5.7.1 <ceo@bank.example>: Sender address rejected: not owned by user webapp"),
                        notOwned.output());

                Tools.Run port25 = swaks(n.smtp(), OUTSIDE, "--tls", from, "app@web.example");
                keep("port 25 with STARTTLS from 127.0.0.2 (outside mynetworks), no AUTH: as before", port25.output());
                assertTrue(port25.output().contains("554 5.7.1 <someone@dest.example>: Relay access denied"),
                        port25.output());
                assertFalse(port25.output().contains("AUTH"), "no AUTH on port 25 without smtpd.sasl-auth-enable");

                // exactly the five accepted messages reach the upstream, and nothing else
                upstream.awaitMessages(5, Duration.ofSeconds(60));
                Thread.sleep(1500);
                assertEquals(5, upstream.messages().size());
                assertTrue(upstream.messages().stream().allMatch(m -> m.sender().equals("app@web.example")));

                String log = node.awaitMailLog("Relay access denied", Duration.ofSeconds(10));
                String mailLog = node.mailLog();
                assertEquals(4, count(mailLog, ", sasl_method="), mailLog);
                assertEquals(2, count(mailLog, ", sasl_method=PLAIN, sasl_username=webapp\n"), mailLog);
                assertEquals(2, count(mailLog, ", sasl_method=LOGIN, sasl_username=webapp\n"), mailLog);
                assertTrue(mailLog.contains("warning: unknown[127.0.0.2]: SASL LOGIN authentication failed:"
                        + " authentication failure"), mailLog);
                assertTrue(mailLog.contains("reject: MAIL from unknown[127.0.0.2]: 530 5.7.0 Authentication required"),
                        log);
                assertNoPassword(node);

                // pflogsumm (Debian's 1.1.5 has no SASL section) lists the failed login among the smtpd warnings
                Tools.Run report = Tools.run(Duration.ofSeconds(60), Tools.PFLOGSUMM, "--syslog-name=relay",
                        node.dir().resolve("mail.log").toString());
                keep("pflogsumm --syslog-name=relay over the node's mail log", report.output());
                assertTrue(report.output().contains("unknown[127.0.0.2]: SASL LOGIN authentication failed"),
                        report.output());
            }
        }
    }

    @Test
    void postfixRelaysThroughTheSubmissionPortWithSaslAuth(@TempDir Path dir) throws Exception {
        Tools.require(Tools.POSTFIX, Tools.SWAKS, Tools.PFLOGSUMM);
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir.resolve("up")).start()) {
            Node n = start(dir, upstream.port());
            Path postfixDir = dir.resolve("postfix");
            Files.createDirectories(postfixDir);
            Path passwords = postfixDir.resolve("sasl_passwd");
            Files.writeString(passwords, "[127.0.0.1]:" + n.submission() + " " + USER + ":" + PASSWORD + "\n");
            try (NodeProcess node = n.process();
                 PostfixInstance postfix = PostfixInstance.start(postfixDir, n.submission(), Map.of(
                         "smtp_sasl_auth_enable", "yes",
                         "smtp_sasl_password_maps", "texthash:" + passwords,
                         "smtp_sasl_security_options", "noanonymous",
                         "smtp_tls_security_level", "encrypt",
                         // from outside the node's mynetworks, so that only AUTH lets it relay
                         "smtp_bind_address", OUTSIDE))) {
                for (int i = 0; i < 3; i++) {
                    Tools.Run r = Tools.swaks(postfix.smtpPort(), "--from", "app@web.example", "--to",
                            "user" + i + "@dest.example");
                    assertEquals(0, r.exit(), r.output());
                }
                postfix.awaitSent(3, Duration.ofSeconds(90));
                upstream.awaitMessages(3, Duration.ofSeconds(60));
                assertEquals(3, upstream.messages().size());
                String mailLog = node.mailLog();
                assertEquals(3, count(mailLog, "client=unknown[127.0.0.2], sasl_method="), mailLog);
                assertTrue(mailLog.contains("sasl_username=webapp"), mailLog);
                assertNoPassword(node);

                // pflogsumm over the node's log: Debian's 1.1.5 has no SASL section, but counts the
                // messages and lists the smtpd warnings (here none: no login failed)
                Tools.Run report = Tools.run(Duration.ofSeconds(60), "/bin/sh", "-c",
                        Tools.PFLOGSUMM + " --syslog-name=relay " + node.dir().resolve("mail.log"));
                assertEquals(0, report.exit(), report.output());
                assertTrue(report.output().matches("(?s).*\\s3\\s+received.*"), report.output());
            }
        }
    }

    /** AUTH PLAIN on the submission port before STARTTLS, from 127.0.0.2, as a transcript. */
    private static String clearTextAuth(int port) throws IOException {
        StringBuilder t = new StringBuilder();
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(OUTSIDE), 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = s.getOutputStream();
            readReply(in, t);
            for (String line : List.of("EHLO app.example", "AUTH PLAIN "
                    + Base64.getEncoder().encodeToString(("\0" + USER + "\0" + PASSWORD).getBytes(StandardCharsets.UTF_8)),
                    "QUIT")) {
                t.append(" -> ").append(line.startsWith("AUTH") ? "AUTH PLAIN (base64 of the credentials, hidden)" : line)
                        .append('\n');
                out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                readReply(in, t);
            }
        }
        return t.toString();
    }

    private static void readReply(BufferedReader in, StringBuilder t) throws IOException {
        String l;
        while ((l = in.readLine()) != null) {
            t.append("<-  ").append(l).append('\n');
            if (l.length() < 4 || l.charAt(3) != '-') {
                return;
            }
        }
    }

    private static void assertNoPassword(NodeProcess node) throws IOException {
        String blob = Base64.getEncoder().encodeToString(PASSWORD.getBytes(StandardCharsets.UTF_8));
        try (Stream<Path> files = Files.list(node.dir())) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String text = Files.readString(f, StandardCharsets.ISO_8859_1);
                assertFalse(text.contains(PASSWORD), "the password is in " + f);
                assertFalse(text.contains(blob), "the password's base64 is in " + f);
            }
        }
    }

    private static int count(String text, String fragment) {
        int n = 0;
        for (int i = text.indexOf(fragment); i >= 0; i = text.indexOf(fragment, i + 1)) {
            n++;
        }
        return n;
    }
}
