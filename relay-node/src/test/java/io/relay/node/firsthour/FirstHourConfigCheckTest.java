package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.relay.node.Main;
import io.relay.node.config.ConfigException;
import io.relay.node.config.ConfigLoader;
import io.relay.node.config.RelayConfig;
import io.relay.node.config.RoutingConfigs;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/**
 * Issue 16 items 1, 2, 12 and 13 from the operator's command line: {@code relay-node check}
 * runs what the start runs and lists every problem on its own line with the file and the key;
 * {@code route} answers even when a credentials file cannot be read; open-relay networks are
 * refused unless {@code smtpd.allow-open-relay} says so; every error names its key.
 */
class FirstHourConfigCheckTest {
    private static final Path FIXTURES = Path.of("../routing/src/test/resources/fixtures");

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = new CommandLine(new Main());
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        int code = cmd.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /** The SMTP port of the last {@link #config}. */
    private int smtp;

    /** The keys under test, with free ports, a spool and a mail log in the test's directory. */
    private Path config(String yaml) throws Exception {
        Path file = dir.resolve("relay.yaml");
        smtp = Ports.free();
        Files.writeString(file, NodeYaml.in(dir, smtp).with(yaml));
        return file;
    }

    private Path secret(String name, String text, String mode) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    @Test
    void aGoodConfigurationIsOk() throws Exception {
        Path cfg = config("smtp:\n  relayhost: \"[127.0.0.1]:2526\"\n");
        Run r = cli("check", "--config", cfg.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(cfg + ": ok\n", r.out());
        assertEquals("", r.err(), "no warning for an smtp default transport");
    }

    @Test
    void checkListsEveryProblemOnItsOwnLineWithTheKey() throws Exception {
        Path sasl = secret("sasl_passwd", "[email-smtp.us-east-1.amazonaws.com]:587 onlyapassword\n", "rw-------");
        Path token = secret("admin.token", "0123456789abcdef0123456789abcdef\n", "rw-r-----");
        Path spoolFile = secret("spool-is-a-file", "", "rw-------");
        Path cfg = config("""
                smtp:
                  relayhost: "[[mx.example.com]:notaport"
                  destination-rate: [fast]
                  default-transport: "carrierpigeon:"
                  transport-maps:
                    example.com: "sess:[email-smtp.us-east-1.amazonaws.com]:587"
                    example.net: "ses:"
                  transports:
                    ses:
                      sasl-password-file: %s
                      rate: ["14/s", "lots/d"]
                admin:
                  token-file: %s
                queue:
                  spool-dir: %s
                """.formatted(sasl, token, spoolFile)).toAbsolutePath();

        Run r = cli("check", "--config", cfg.toString());

        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals("", r.out(), "no 'ok'");
        List<String> lines = r.err().lines().toList();
        String p = cfg + ": ";
        for (String expected : List.of(
                p + "queue.spool-dir: " + spoolFile + " is a file, not a directory",
                p + "smtp.relayhost: next hop '[[mx.example.com]:notaport': ",
                p + "smtp.destination-rate: rate 'fast' is not N/unit",
                p + "smtp.transports.ses.rate: rate 'lots/d' is not N/unit",
                p + "smtp.transports.ses.sasl-password-file: " + sasl + ":1: entry '[email-smtp.us-east-1.amazonaws.com]:587'"
                        + " value is not user:password",
                p + "smtp.default-transport: 'carrierpigeon:' names transport 'carrierpigeon', which is not defined",
                p + "smtp.transport-maps: entry 'example.com' names transport 'sess', which is not defined",
                p + "admin.token-file: " + token + " is readable or writable by group or others")) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(expected)), "missing " + expected + " in:\n" + r.err());
        }
        assertEquals(8, lines.size(), "one line per problem:\n" + r.err());
        assertFalse(r.err().contains("onlyapassword"), "no secret printed");
        assertFalse(r.err().contains("\tat "), "no stack trace");
    }

    @Test
    void aBusyPortIsAProblemOfCheck() throws Exception {
        try (ServerSocket busy = new ServerSocket()) {
            busy.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Path cfg = config("cluster:\n  listen: 127.0.0.1:%d\n".formatted(busy.getLocalPort()));
            Run r = cli("check", "--config", cfg.toString());
            assertEquals(2, r.code(), r.out() + r.err());
            assertEquals(cfg + ": cluster.listen: 127.0.0.1:" + busy.getLocalPort() + ": address already in use\n", r.err());
        }
    }

    @Test
    void theImportedSesSelectedDestinationsSetupFailsCheckOnItsUnreadableCredentials() throws Exception {
        Path postfix = dir.resolve("etc-postfix");
        Files.createDirectories(postfix);
        try (Stream<Path> files = Files.list(FIXTURES.resolve("ses-selected-destinations"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, postfix.resolve(f.getFileName()));
            }
        }
        Path imported = dir.resolve("imported.yaml");
        assertEquals(0, cli("import-postfix", postfix.toString(), "--out", imported.toString()).code());
        // only this machine's ports and spool change; the file names stay /etc/postfix/..., as on the operator's host
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        ObjectNode root = (ObjectNode) yaml.readTree(imported.toFile());
        root.withObjectProperty("smtpd").set("listen", yaml.createArrayNode().add("127.0.0.1:" + Ports.free()));
        root.withObjectProperty("health").put("listen", "127.0.0.1:" + Ports.free());
        root.withObjectProperty("cluster").put("listen", "127.0.0.1:" + Ports.free());
        root.withObjectProperty("queue").put("spool-dir", dir.resolve("spool").toString());
        yaml.writeValue(imported.toFile(), root);
        String sasl = root.at("/smtp/transports/ses/sasl-password-file").asText();
        assertFalse(Files.isReadable(Path.of(sasl)), "the fixture's " + sasl + " is not on this machine");

        Run check = cli("check", "--config", imported.toString());
        assertEquals(2, check.code(), check.out() + check.err());
        assertTrue(check.err().contains(imported + ": smtp.transports.ses.sasl-password-file: cannot read " + sasl
                + " (no such file)\n"), check.err());

        // route still answers, and says why it shows no credentials
        Run route = cli("route", "someone@example.com", "--config", imported.toString());
        assertEquals(0, route.code(), route.err());
        assertTrue(route.out().contains("transport: ses\n"), route.out());
        assertTrue(route.out().contains("credentials: none\n"), route.out());
        assertTrue(route.out().contains("warning: " + imported + ": smtp.transports.ses.sasl-password-file: cannot read "
                + sasl + " (no such file)"), route.out());
    }

    @Test
    void aMisspelledTransportInTheTableIsTheOneProblem() throws Exception {
        Path cfg = config("""
                smtp:
                  transport-maps:
                    example.com: "sess:"
                  transports:
                    ses:
                      nexthop: "[email-smtp.us-east-1.amazonaws.com]:587"
                """);
        Run r = cli("check", "--config", cfg.toString());
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals(cfg + ": smtp.transport-maps: entry 'example.com' names transport 'sess', which is not defined"
                + " (built in: smtp, relay, file, discard, error, retry; smtp.transports: ses)\n", r.err());
    }

    @Test
    void theStartRefusesWhatCheckRefusesBeforeBindingAnything() throws Exception {
        Path cfg = config("""
                smtp:
                  transport-maps:
                    example.com: "sess:"
                  transports:
                    ses:
                      sasl-password-file: /nonexistent/sasl-ses
                """);
        Run check = cli("check", "--config", cfg.toString());
        List<String> problems = check.err().lines().toList();
        assertEquals(2, problems.size(), check.err());

        StringWriter err = new StringWriter();
        CommandLine start = new CommandLine(new Main()).setErr(new PrintWriter(err, true));
        // as Main.main reports a ConfigException: one line, no stack trace
        start.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("relay-node: " + e.getMessage());
            return 2;
        });
        assertEquals(2, start.execute("--config", cfg.toString()));
        assertEquals("relay-node: " + problems.get(0) + " (and 1 more; relay-node check --config FILE lists them all)\n",
                err.toString());
        try (ServerSocket free = new ServerSocket(smtp, 1, InetAddress.getLoopbackAddress())) {
            assertEquals(smtp, free.getLocalPort(), "the refused start bound nothing");
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            mynetworks: [0.0.0.0/0]                              | smtpd.mynetworks: 0.0.0.0/0: the whole IPv4 address space
            mynetworks: ['::/0']                                 | smtpd.mynetworks: ::/0: the whole IPv6 address space
            mynetworks: [10.0.0.0/8, 0.0.0.0/1, 128.0.0.0/1]     | smtpd.mynetworks: 0.0.0.0/1: a public range wider than /16
            mynetworks: [20.0.0.0/8]                             | smtpd.mynetworks: 20.0.0.0/8: a public range wider than /16
            proxy-protocol: {trusted-networks: [0.0.0.0/0]}      | smtpd.proxy-protocol.trusted-networks: 0.0.0.0/0: the whole IPv4 address space
            """)
    void openRelayNetworksAreRefusedNamingTheKey(String smtpd, String expected) throws Exception {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("smtpd: {" + smtpd + "}\n", "t.yaml"));
        assertTrue(e.getMessage().startsWith("t.yaml: " + expected), e.getMessage());
        assertTrue(e.getMessage().contains("set smtpd.allow-open-relay: true if you mean it"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");

        Path cfg = config("smtpd:\n  " + smtpd + "\n");
        Run r = cli("check", "--config", cfg.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith(cfg + ": " + expected), r.err());
    }

    @Test
    void anOpenRelayOnPurposeLoadsWithAWarning() throws Exception {
        RelayConfig c = ConfigLoader.parse("smtpd: {mynetworks: [0.0.0.0/0], allow-open-relay: true}\n", "t.yaml");
        assertEquals(List.of("0.0.0.0/0"), c.smtpd.mynetworks);
        Path cfg = config("smtpd:\n  mynetworks: [0.0.0.0/0]\n  allow-open-relay: true\n");
        Run r = cli("check", "--config", cfg.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().startsWith("warning: " + cfg + ": smtpd.mynetworks: 0.0.0.0/0: the whole IPv4 address space"),
                r.err());
        assertTrue(r.err().contains("allowed by smtpd.allow-open-relay: true"), r.err());
    }

    @Test
    void aConfigurationFileDefaultsToSmtpAndOnlyTheEmbeddedDefaultsCaptureToVarMail() throws Exception {
        assertEquals("smtp", ConfigLoader.parse("smtp: {relayhost: '[127.0.0.1]:2526'}\n", "t.yaml").smtp.defaultTransport);
        assertEquals("file:var/mail", ConfigLoader.embeddedDefaults().smtp.defaultTransport);
        Path cfg = config("smtp: {relayhost: '[smarthost.internal]:587'}\n");
        Run route = cli("route", "someone@example.org", "--config", cfg.toString());
        assertTrue(route.out().contains("transport: smtp\nkind: smtp\nnext hop: [smarthost.internal]:587\n"), route.out());

        Path capture = config("smtp: {default-transport: 'discard:'}\n");
        Run check = cli("check", "--config", capture.toString());
        assertEquals(0, check.code(), check.err());
        assertEquals("warning: " + capture + ": smtp.default-transport is 'discard:': mail is thrown away, not delivered"
                + " (set smtp.default-transport: smtp)\n", check.err());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            smtp: {relayhost: '[[mx.example.com]:notaport'}                  | t.yaml: smtp.relayhost: next hop '[[mx.example.com]:notaport'
            smtp: {destination-rate: [fast]}                                 | t.yaml: smtp.destination-rate: rate 'fast' is not N/unit
            smtp: {fallback-relay: ['[a]:x']}                                | t.yaml: smtp.fallback-relay: next hop '[a]:x': port 'x' is not a number
            smtp: {transports: {ses: {rate: [fast]}}}                        | t.yaml: smtp.transports.ses.rate: rate 'fast' is not N/unit
            smtp: {transports: {ses: {nexthop: '[x'}}}                       | t.yaml: smtp.transports.ses.nexthop: next hop '[x': '[' without a closing ']'
            smtp: {transports: {ses: {concurrency: 0}}}                      | t.yaml: smtp.transports.ses.concurrency: must be at least 1
            smtp: {transports: {ses: {tls-security-level: paranoid}}}        | t.yaml: smtp.transports.ses.tls-security-level: 'paranoid' is not one of none, may, encrypt, verify, secure
            smtp: {transport-maps: {example.com: 'smtp:[a]:99999'}}          | t.yaml: smtp.transport-maps: entry 'example.com': next hop '[a]:99999': port 99999 is outside 1-65535
            """)
    void routingErrorsNameTheirKeyAndTheFile(String yaml, String expectedStart) {
        RelayConfig c = ConfigLoader.parse(yaml, "t.yaml");
        ConfigException e = assertThrows(ConfigException.class, () -> RoutingConfigs.from(c, w -> { }));
        assertTrue(e.getMessage().startsWith(expectedStart), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            smtpd: {message-size-limit: 99999999999999999999} | t.yaml: smtpd.message-size-limit: 99999999999999999999 is out of range (-9223372036854775808 to 9223372036854775807)
            smtpd: {recipient-limit: 3000000000}              | t.yaml: smtpd.recipient-limit: 3000000000 is out of range (-2147483648 to 2147483647)
            queue: {max-messages: 1e400}                      | t.yaml: queue.max-messages:
            """)
    void anOutOfRangeNumberNamesTheKeyAndTheRange(String yaml, String expectedStart) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "t.yaml"));
        assertTrue(e.getMessage().startsWith(expectedStart), e.getMessage());
        assertFalse(e.getMessage().contains("not valid YAML"), e.getMessage());
    }
}
