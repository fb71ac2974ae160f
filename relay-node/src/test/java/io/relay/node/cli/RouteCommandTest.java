package io.relay.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code relay-node route ADDRESS --config FILE} (issue 3 item 9): prints the decision like
 * {@code postmap -q} — transport, next hop, TLS level, credentials entry and user, limits and
 * the table entry that matched — and never the password.
 */
class RouteCommandTest {
    private static final String PASSWORD = "BPx7+secretSesSmtpPassw0rd/Q";

    @TempDir
    Path dir;

    private Path config() throws Exception {
        Path sasl = dir.resolve("sasl_passwd");
        Files.writeString(sasl, "[email-smtp.us-east-1.amazonaws.com]:587 AKIAEXAMPLEUSER:" + PASSWORD + "\n");
        Files.setPosixFilePermissions(sasl, PosixFilePermissions.fromString("rw-------"));
        Path yaml = dir.resolve("relay.yaml");
        Files.writeString(yaml, """
                smtp:
                  relayhost: "[smarthost.internal]:25"
                  default-transport: smtp
                  transport-maps:
                    example.com: "ses:[email-smtp.us-east-1.amazonaws.com]:587"
                  transports:
                    ses:
                      tls-security-level: encrypt
                      sasl-password-file: %s
                      concurrency: 1
                      rate: ["1/s", "50000/d"]
                      fallback-relay: []
                """.formatted(sasl));
        return yaml;
    }

    private static Map<String, String> fields(String out) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int colon = line.indexOf(": ");
            if (colon > 0) {
                m.put(line.substring(0, colon), line.substring(colon + 2));
            }
        }
        return m;
    }

    private String run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = new CommandLine(new Main()).execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        String stdout = out.toString(StandardCharsets.UTF_8);
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, stderr);
        assertFalse(stdout.contains(PASSWORD) || stderr.contains(PASSWORD), "password printed:\n" + stdout + stderr);
        assertFalse(stdout.contains(PASSWORD.substring(0, 12)), "part of the password printed:\n" + stdout);
        return stdout;
    }

    @Test
    void printsTheNamedTransportsDecisionWithoutThePassword() throws Exception {
        String out = run("route", "someone@example.com", "--config", config().toString());
        Map<String, String> f = fields(out);
        assertEquals("someone@example.com", f.get("address"), out);
        assertEquals("ses", f.get("transport"), out);
        assertEquals("[email-smtp.us-east-1.amazonaws.com]:587", f.get("next hop"), out);
        assertEquals("no", f.get("mx lookup"), out);
        assertEquals("encrypt", f.get("tls security level"), out);
        assertEquals("[email-smtp.us-east-1.amazonaws.com]:587 (user AKIAEXAMPLEUSER)", f.get("credentials"), out);
        assertEquals("1", f.get("concurrency"), out);
        assertEquals("1/s, 50000/d", f.get("rates"), out);
        assertEquals("none", f.get("fallback relays"), out);
        assertEquals("transport_maps: example.com", f.get("matched by"), out);
    }

    @Test
    void anUnroutedDomainGoesToTheRelayhost() throws Exception {
        String out = run("route", "<user@example.org>", "--config", config().toString());
        Map<String, String> f = fields(out);
        assertEquals("smtp", f.get("transport"), out);
        assertEquals("[smarthost.internal]", f.get("next hop"), "port 25 is implied, as Postfix writes it:\n" + out);
        assertEquals("none", f.get("credentials"), out);
        assertTrue(f.get("matched by").contains("relayhost"), out);
    }
}
