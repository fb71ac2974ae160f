package io.relay.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.config.ConfigLoader;
import io.relay.node.config.RelayConfig;
import io.relay.node.config.RoutingConfigs;
import io.relay.node.testing.PostfixFixture;
import io.relay.routing.Route;
import io.relay.routing.Router;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code relay-node import-postfix DIR --out FILE} on each of the users' Postfix setups
 * (the fixtures): the YAML it writes is accepted by the node's own config loader without
 * edits, lists what it did not carry over on stderr, and routes the fixture's addresses
 * as that setup intends.
 */
class ImportPostfixCommandTest {
    @ParameterizedTest(name = "{0}: {1} -> {2} {3}")
    @CsvSource(delimiter = '|', textBlock = """
            ses-selected-destinations | someone@example.com   | ses   | email-smtp.us-east-1.amazonaws.com
            ses-selected-destinations | user-1@example.net    | ses   | email-smtp.us-east-1.amazonaws.com
            ses-selected-destinations | user-2@example.net    | smtp  | example.net
            ses-relayhost-587         | anyone@example.org    | smtp  | [email-smtp.us-east-1.amazonaws.com]:587
            ses-relayhost-port25      | anyone@example.org    | smtp  | [email-smtp.ap-northeast-1.amazonaws.com]
            smarthost-sandbox-rate    | anyone@example.org    | smtp  | [email-smtp.cc-direction-1.amazonaws.com]:587
            elb-relay-mynetworks      | anyone@example.org    | smtp  | example.org
            """)
    void importedYamlLoadsAndRoutesAsTheSetupIntends(String fixture, String rcpt, String transport, String nexthop,
                                                     @TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve(fixture);
        PostfixFixture.copy(fixture, dir);
        Path out = tmp.resolve("relay.yaml");
        PostfixFixture.Imported imported = PostfixFixture.importPostfix(dir, out);
        int code = imported.code();
        String stderr = imported.stderr();
        assertEquals(0, code, stderr);
        assertTrue(stderr.contains("not carried over: "), "lists what it left out: " + stderr);
        // The YAML names the tables where Postfix had them (/etc/postfix, /usr/local/etc/postfix);
        // point them at the copy.
        // The CA bundle path is the users' distribution's (RHEL, BSD); use this machine's.
        String yaml = Files.readString(out)
                .replaceAll("(sasl-password-file: )\\S*/([^/\\s]+)", "$1" + dir + "/$2")
                .replaceAll("(tls-ca-file: ).*", "$1/etc/ssl/certs/ca-certificates.crt");
        Files.writeString(out, yaml);
        assertTrue(!yaml.contains("password") || !yaml.matches("(?s).*:\\s*[A-Za-z0-9/+]{30,}.*"), "no secrets in YAML");
        RelayConfig cfg = ConfigLoader.load(out);
        Route route = new Router(RoutingConfigs.from(cfg, w -> { })).route(rcpt, "app@example.com");
        assertEquals(transport, route.transport(), route.describe());
        assertEquals(nexthop, route.nextHop().text(), route.describe());
    }
}
