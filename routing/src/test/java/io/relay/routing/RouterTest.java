package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RouterTest {
    private static final SaslPasswordTable DEFAULT_SASL = SaslPasswordTable.parse(
            "[relayhost.example]:587 defuser:defpass\n[tenant-a-relay.example]:587 tenantuser:tenantpass\n", "sasl_passwd");
    private static final SaslPasswordTable SES_SASL = SaslPasswordTable.parse(
            "email-smtp.us-east-1.amazonaws.com AKIASES:sesSecret\n", "sasl-ses");

    private static Router router(String relayhost) {
        TransportTable table = TransportTable.parse("""
                example.com          ses:email-smtp.us-east-1.amazonaws.com
                user-1@example.net   ses:email-smtp.us-east-1.amazonaws.com
                .example.org         :[gw.example.org]:2525
                direct.example       smtp:
                named-direct.example ses:
                bounce.example       error:5.1.1 gone
                sink.example         discard:sunk
                files.example        file:var/out
                odd.example          lmtp:[lmtp.example]
                """, "transport");
        TransportSettings ses = new TransportSettings(null, TlsLevel.ENCRYPT, "/etc/ssl/ca.pem", SES_SASL, 4,
                List.of("14/s"), List.of(), null);
        TransportSettings smtp = new TransportSettings(null, TlsLevel.MAY, null, DEFAULT_SASL, 10, null,
                List.of("[fallback.example]:587"), true);
        return new Router(new RoutingConfig(relayhost, "smtp", smtp, Map.of("ses", ses), table,
                SenderRelayhostTable.of(Map.of("@tenant-a.com", "[tenant-a-relay.example]:587",
                        "special@tenant-b.com", "[special-relay.example]")),
                Set.of("relay.example.co.jp")));
    }

    @ParameterizedTest(name = "[{index}] {0} from {1}")
    @CsvSource(delimiter = '|', value = {
            // recipient              | sender               | relayhost                | transport | kind | next hop                                 | matched by
            "a@example.com            | app@web.example      | ''                       | ses  | SMTP    | email-smtp.us-east-1.amazonaws.com | transport_maps: example.com",
            "user-1@example.net       | app@web.example      | [relayhost.example]:587  | ses  | SMTP    | email-smtp.us-east-1.amazonaws.com | transport_maps: user-1@example.net",
            "user-2@example.net       | app@web.example      | ''                       | smtp | SMTP    | example.net                        | default_transport",
            "user-2@example.net       | app@web.example      | [relayhost.example]:587  | smtp | SMTP    | [relayhost.example]:587            | default_transport; relayhost",
            "x@tenant.example         | bob@tenant-a.com     | [relayhost.example]:587  | smtp | SMTP    | [tenant-a-relay.example]:587       | default_transport; sender_dependent_relayhost_maps: @tenant-a.com",
            "x@tenant.example         | special@tenant-b.com | [relayhost.example]:587  | smtp | SMTP    | [special-relay.example]            | default_transport; sender_dependent_relayhost_maps: special@tenant-b.com",
            "x@tenant.example         | other@tenant-b.com   | [relayhost.example]:587  | smtp | SMTP    | [relayhost.example]:587            | default_transport; relayhost",
            "x@tenant.example         | ''                   | [relayhost.example]:587  | smtp | SMTP    | [relayhost.example]:587            | default_transport; relayhost",
            "x@a.example.org          | app@web.example      | [relayhost.example]:587  | smtp | SMTP    | [gw.example.org]:2525              | transport_maps: .example.org",
            "x@direct.example         | app@web.example      | [relayhost.example]:587  | smtp | SMTP    | direct.example                     | transport_maps: direct.example",
            "x@named-direct.example   | app@web.example      | [relayhost.example]:587  | ses  | SMTP    | named-direct.example               | transport_maps: named-direct.example",
            "x@bounce.example         | app@web.example      | ''                       | error| ERROR   | ''                                 | transport_maps: bounce.example",
            "x@sink.example           | app@web.example      | ''                       | discard | DISCARD | ''                              | transport_maps: sink.example",
            "x@files.example          | app@web.example      | ''                       | file | FILE    | ''                                 | transport_maps: files.example",
            "x@odd.example            | app@web.example      | ''                       | lmtp | DEFER   | ''                                 | transport_maps: odd.example",
            "x@relay.example.co.jp    | app@web.example      | [relayhost.example]:587  | relay| SMTP    | [relayhost.example]:587            | relay_domains (relay_transport); relayhost",
    })
    void routesAsPostfix(String rcpt, String sender, String relayhost, String transport, Route.Kind kind,
                         String nextHop, String matchedBy) {
        Route r = router(relayhost).route(rcpt, sender);
        assertEquals(transport, r.transport());
        assertEquals(kind, r.agent().kind());
        assertEquals(nextHop, r.nextHop() == null ? "" : r.nextHop().text());
        assertEquals(matchedBy, r.matchedBy());
    }

    @Test
    void namedTransportOverridesAndInherits() {
        Route r = router("").route("a@example.com", "app@web.example");
        assertEquals(TlsLevel.ENCRYPT, r.tlsLevel());
        assertEquals("/etc/ssl/ca.pem", r.tlsCaFile());
        assertEquals("AKIASES", r.credentials().username());
        assertEquals(List.of(), r.fallbackRelays(), "explicit empty fallback list = no fallback");
        assertEquals(new Route.Limits(4, List.of("14/s")), r.limits());
        assertTrue(r.connectionReuse(), "connection reuse inherited from smtp");
    }

    @Test
    void defaultTransportUsesDefaultSettingsAndCredentialsByChosenHop() {
        Route r = router("[relayhost.example]:587").route("a@else.example", "app@web.example");
        assertEquals(TlsLevel.MAY, r.tlsLevel());
        assertEquals("defuser", r.credentials().username());
        assertEquals(List.of(NextHop.parse("[fallback.example]:587")), r.fallbackRelays());
        assertEquals(10, r.limits().concurrency());

        Route tenant = router("[relayhost.example]:587").route("a@else.example", "x@tenant-a.com");
        assertEquals("tenantuser", tenant.credentials().username());

        assertNull(router("").route("a@else.example", "app@web.example").credentials(), "no entry for direct MX");
    }

    @Test
    void unknownTransportDefersWithPostfixText() {
        Route r = router("").route("x@odd.example", "s@web.example");
        assertEquals(new Agent.Defer("mail transport unavailable: unknown transport \"lmtp\""), r.agent());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', value = {
            "file:var/mail     | file    | FILE    | var/mail",
            "discard:          | discard | DISCARD | ''",
            "error:5.7.1 nope  | error   | ERROR   | 5.7.1 nope",
            "nosuch            | nosuch  | DEFER   | mail transport unavailable: unknown transport \"nosuch\"",
    })
    void defaultTransportKinds(String defaultTransport, String transport, Route.Kind kind, String argument) {
        Route r = new Router(RoutingConfig.simple("", defaultTransport)).route("a@b.example", "s@c.example");
        assertEquals(transport, r.transport());
        assertEquals(kind, r.agent().kind());
        assertEquals(argument, text(r.agent()));
        assertEquals("default_transport", r.matchedBy());
    }

    /** The one text a non-SMTP agent carries. */
    private static String text(Agent agent) {
        if (agent instanceof Agent.FileDrop f) {
            return f.directory();
        } else if (agent instanceof Agent.Discard d) {
            return d.text();
        } else if (agent instanceof Agent.Bounce b) {
            return b.text();
        } else if (agent instanceof Agent.Defer d) {
            return d.reason();
        }
        throw new AssertionError("an SMTP route has no text: " + agent);
    }

    @Test
    void describeShowsEverythingButThePassword() {
        String text = router("").route("a@example.com", "app@web.example").describe();
        assertEquals("""
                transport: ses
                kind: smtp
                next hop: email-smtp.us-east-1.amazonaws.com
                mx lookup: yes
                tls security level: encrypt
                tls ca file: /etc/ssl/ca.pem
                credentials: email-smtp.us-east-1.amazonaws.com (user AKIASES)
                fallback relays: none
                concurrency: 4
                rates: 14/s
                connection reuse: yes
                matched by: transport_maps: example.com
                """, text);
        assertFalse(text.contains("sesSecret"));
        String bounce = router("").route("x@bounce.example", "s@web.example").describe();
        assertTrue(bounce.contains("kind: error\nargument: 5.1.1 gone\n"), bounce);
    }
}
