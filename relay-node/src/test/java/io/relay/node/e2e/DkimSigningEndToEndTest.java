package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.dkim.Verifiers;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DKIM signing in the message path, from the user's side: one node (its own JVM, admin port)
 * relays to an aiosmtpd upstream; {@code relayctl dkim generate} makes an Ed25519 key for
 * example.com and an RSA key for rsa.test; mail sent with swaks arrives signed, and
 * python3-dkim verifies every signature against the zone lines relayctl printed (no DNS),
 * including a message with long folded headers, an 8-bit body and a line starting with a dot
 * (dot-stuffed on the wire, signed unstuffed). Mail from a domain without a key arrives
 * unsigned, so does mail through a transport with {@code dkim: off}; mail from a domain in
 * {@code dkim.required} without a key is deferred (4.7.0) and never arrives.
 */
class DkimSigningEndToEndTest {
    private static final String TOKEN = "e2e-dkim-sign-token-51c9e0";

    @Test
    void signsWithTheFromDomainsKeyAndPythonDkimVerifies(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS);
        Tools.requirePythonModule("aiosmtpd");
        Tools.requirePythonModule("dkim");
        byte[] kekBytes = new byte[32];
        new SecureRandom().nextBytes(kekBytes);
        Path kek = Files.setPosixFilePermissions(Files.write(dir.resolve("dkim.kek"), kekBytes),
                PosixFilePermissions.fromString("rw-------"));
        Path tokenFile = Files.setPosixFilePermissions(Files.writeString(dir.resolve("admin.token"), TOKEN + "\n"),
                PosixFilePermissions.fromString("rw-------"));
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(Files.createDirectories(dir.resolve("upstream"))).start()) {
            int smtp = Ports.free();
            int clusterPort = Ports.free();
            int adminPort = Ports.free();
            Path nodeDir = dir.resolve("node");
            String transports = """
                    transport-maps:
                      unsigned.test: "plain:[127.0.0.1]:%d"
                    transports:
                      plain:
                        dkim: off""".formatted(upstream.port());
            String yaml = new NodeYaml(nodeDir, smtp, Ports.free(), clusterPort).with(
                    RelayYaml.relayingTo(upstream.port()).hostname("relay.test").quickRetries()
                            .block("smtp", transports)
                            .set("dkim.key-encryption-key-file", kek)
                            .set("dkim.required", "[bank.test]")
                            .cluster("dkim-sign", "127.0.0.1:" + clusterPort)
                            .admin(adminPort, tokenFile).text());
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp)) {
                Ports.awaitOpen(adminPort, Duration.ofSeconds(60));
                Map<String, String> env = Map.of("RELAYCTL_NODE", "127.0.0.1:" + adminPort,
                        "RELAYCTL_TOKEN_FILE", tokenFile.toString());
                Cli ed = AdminCluster.runInProcess(env, "dkim", "generate", "example.com", "--algo", "ed25519",
                        "--selector", "e1");
                assertEquals(0, ed.code(), ed.toString());
                Cli rsa = AdminCluster.runInProcess(env, "dkim", "generate", "rsa.test", "--algo", "rsa",
                        "--selector", "r1");
                assertEquals(0, rsa.code(), rsa.toString());
                List<String> zone = List.of(ed.out().strip(), rsa.out().strip());

                // a first message proves the keys reached the message path (the state is applied
                // on the admin state's listener, a moment after relayctl's answer)
                int probes = awaitSigned(upstream, smtp);

                String folded = "X-Long: " + "word ".repeat(30).strip().replace("word word word word word ",
                        "word word word word word\r\n\t");
                Path complex = Files.write(dir.resolve("complex.eml"), ("From: App <app@example.com>\r\n"
                        + "To: <x@dest.test>\r\nSubject: complex\r\n" + folded + "\r\n"
                        + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                        + "Grüße aus Köln\r\n.a line starting with a dot\r\n..two dots\r\n\r\n\r\n")
                        .getBytes(StandardCharsets.UTF_8));
                send(smtp, "app@example.com", "x@dest.test", "--data", complex.toString());
                send(smtp, "app@rsa.test", "x@dest.test", "--header", "From: <app@rsa.test>",
                        "--header", "Subject: rsa", "--body", "signed with RSA");
                send(smtp, "app@nokey.test", "x@dest.test", "--header", "From: <app@nokey.test>",
                        "--header", "Subject: nokey", "--body", "no key");
                send(smtp, "app@example.com", "x@unsigned.test", "--header", "From: <app@example.com>",
                        "--header", "Subject: transport-off", "--body", "through plain");
                send(smtp, "app@bank.test", "x@dest.test", "--header", "From: <app@bank.test>",
                        "--header", "Subject: required", "--body", "never unsigned");

                List<AiosmtpdUpstream.Received> got = upstream.awaitMessages(probes + 4, Duration.ofSeconds(30));
                String deferred = node.awaitMailLog("status=deferred", Duration.ofSeconds(30));
                assertTrue(deferred.contains("to=<x@dest.test>") && deferred.contains("4.7.0")
                        && deferred.contains("DKIM signature required for bank.test"), deferred);

                Path complexGot = write(dir, "complex", find(got, "Subject: complex"));
                Path rsaGot = write(dir, "rsa", find(got, "Subject: rsa"));
                Path nokeyGot = write(dir, "nokey", find(got, "Subject: nokey"));
                Path offGot = write(dir, "off", find(got, "Subject: transport-off"));
                assertEquals(List.of("pass", "pass", "none", "none"),
                        Verifiers.python(dir, zone, List.of(complexGot, rsaGot, nokeyGot, offGot)));
                String complexText = Files.readString(complexGot);
                assertTrue(complexText.startsWith("DKIM-Signature: v=1; a=ed25519-sha256;"), complexText);
                assertTrue(complexText.contains("\r\n.a line starting with a dot\r\n..two dots\r\n"), complexText);
                assertTrue(complexText.contains("Grüße aus Köln"), complexText);
                assertTrue(Files.readString(rsaGot).startsWith("DKIM-Signature: v=1; a=rsa-sha256;"));
                assertFalse(Files.readString(offGot).contains("DKIM-Signature"));

                // the required domain's message never arrived, also not later
                Thread.sleep(2500);
                assertEquals(probes + 4, upstream.messages().size(), "nothing from bank.test arrives");
                assertTrue(upstream.messages().stream().noneMatch(m -> m.text().contains("Subject: required")));
            }
        }
    }

    /** Sends probes from example.com until one arrives signed (at most 20); returns how many were sent. */
    private static int awaitSigned(AiosmtpdUpstream upstream, int smtp) throws Exception {
        for (int i = 0; i < 20; i++) {
            String subject = "Subject: probe " + i;
            send(smtp, "app@example.com", "x@dest.test", "--header", "From: <app@example.com>",
                    "--header", subject, "--body", "probe");
            Optional<AiosmtpdUpstream.Received> r = upstream.awaitMessage(m -> m.text().contains(subject),
                    Duration.ofSeconds(10));
            if (r.isPresent() && r.get().text().startsWith("DKIM-Signature:")) {
                return i + 1;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("no probe arrived signed");
    }

    private static void send(int smtp, String from, String to, String... more) throws Exception {
        List<String> args = new ArrayList<>(List.of("--from", from, "--to", to));
        args.addAll(List.of(more));
        Tools.Run r = Tools.swaks(smtp, args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.output());
    }

    private static AiosmtpdUpstream.Received find(List<AiosmtpdUpstream.Received> got, String subject) {
        return got.stream().filter(m -> m.text().contains(subject + "\r\n")).findFirst()
                .orElseThrow(() -> new AssertionError("no message with " + subject));
    }

    private static Path write(Path dir, String name, AiosmtpdUpstream.Received m) throws Exception {
        return Files.write(dir.resolve(name + ".received.eml"), m.content());
    }
}
