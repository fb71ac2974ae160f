package io.relay.cli;

import io.relay.admin.api.AdminApi;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.routing.NotCarried;
import io.relay.routing.PostfixFiles;
import io.relay.routing.PostfixImport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The Postfix fixtures (routing's test resources) as admin classes. */
class PostfixPlanTest {
    static final Path FIXTURES = Path.of("../routing/src/test/resources/fixtures");

    static PostfixPlan.Plan plan(String fixture) {
        Path dir = FIXTURES.resolve(fixture);
        java.util.function.Function<String, Optional<String>> tables = p -> read(dir.resolve(Path.of(p).getFileName()));
        return PostfixPlan.from(PostfixImport.run(new PostfixFiles(read(dir.resolve("main.cf")).orElseThrow(),
                read(dir.resolve("master.cf")).orElse(""), tables)), tables);
    }

    private static Optional<String> read(Path p) {
        try {
            return Files.exists(p) ? Optional.of(Files.readString(p)) : Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> settings(PostfixPlan.Plan p) {
        return p.notCarried().stream().map(NotCarried::setting).toList();
    }

    @Test
    void sesSelectedDestinations() {
        PostfixPlan.Plan p = plan("ses-selected-destinations");
        assertEquals(List.of("127.0.0.0/8", "::1/128"), p.networks());
        assertEquals(Map.of("example.com", "ses:email-smtp.us-east-1.amazonaws.com",
                "user-1@example.net", "ses:email-smtp.us-east-1.amazonaws.com"), p.transport());
        assertEquals(Map.of("email-smtp.us-east-1.amazonaws.com",
                new AdminApi.Login("AKIAEXAMPLESESUSER1", "exampleSesSecret1")), p.credentials());
        assertEquals(Map.of(), p.limits());
        assertTrue(settings(p).contains("relay.yaml smtp.transports.ses"), settings(p).toString());
        assertTrue(settings(p).contains("main.cf: mydestination"), "the importer's own list is kept");
        assertFalse(p.notCarried().toString().contains("exampleSesSecret1"), "never a password");
    }

    @Test
    void sandboxRateBecomesLimitsOfTheRelayhost() {
        PostfixPlan.Plan p = plan("smarthost-sandbox-rate");
        assertNull(p.networks(), "mynetworks unset: left alone");
        assertEquals(Map.of(), p.transport());
        assertEquals(Map.of("[email-smtp.cc-direction-1.amazonaws.com]:587", new AdminApi.Limit(List.of("1/s"), 1)),
                p.limits());
        assertEquals("AKIAEXAMPLESESUSER4", p.credentials().get("[email-smtp.cc-direction-1.amazonaws.com]:587").user());
        assertTrue(settings(p).contains("relay.yaml smtp.relayhost"), settings(p).toString());
    }

    @Test
    void port25KeysAreWrittenWithoutThePort() {
        PostfixPlan.Plan p = plan("ses-relayhost-port25");
        assertEquals("exampleSes/Secret+3", p.credentials().get("[email-smtp.ap-northeast-1.amazonaws.com]").password());
        assertFalse(p.credentials().toString().contains("Secret+3"), "toString hides the password");
    }

    @Test
    void elbRelayMynetworksAndTransport() {
        PostfixPlan.Plan p = plan("elb-relay-mynetworks");
        assertEquals(List.of("127.0.0.0/8", "10.0.0.0/16"), p.networks());
        assertEquals(Map.of("example.co.jp", "smtp:[mx.internal.example.co.jp]:25"), p.transport());
        assertEquals(Map.of(), p.credentials());
        assertTrue(settings(p).contains("relay.yaml smtpd.relay-domains"), settings(p).toString());
        NotCarried listen = p.notCarried().stream().filter(n -> n.setting().equals("relay.yaml smtpd.listen"))
                .findFirst().orElseThrow(() -> new AssertionError(settings(p).toString()));
        assertEquals("0.0.0.0:25", listen.value());
        assertTrue(listen.reason().contains("node-local") && listen.reason().contains("not applied"), listen.reason());
    }
}
