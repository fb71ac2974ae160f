package io.relay.routing;

import static io.relay.routing.FixtureSetups.section;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Each fixture under resources/fixtures imports without edits and then routes as the setup intends. */
class PostfixImportTest {

    private static Set<String> notCarriedSettings(ImportResult r) {
        return r.notCarried().stream().map(NotCarried::setting).collect(Collectors.toSet());
    }

    private static String reason(ImportResult r, String setting) {
        return r.notCarried().stream().filter(n -> n.setting().equals(setting)).findFirst()
                .orElseThrow(() -> new AssertionError(setting + " not in " + r.notCarried())).reason();
    }

    private static Router router(String fixture, ImportResult r) {
        return new Router(FixtureSetups.routingConfig(r.config(), FixtureSetups.files(fixture)));
    }

    @Test
    void sesSelectedDestinations() {
        ImportResult r = PostfixImport.run(FixtureSetups.files("ses-selected-destinations"));
        Map<String, Object> smtp = section(r.config(), "smtp");
        // inet_interfaces = loopback-only, inet_protocols unset (Postfix 3: all), master.cf smtp inet
        assertEquals(Map.of("hostname", "web1.example.jp", "mynetworks", List.of("127.0.0.0/8", "::1/128"),
                "listen", List.of("127.0.0.1:25", "[::1]:25")), section(r.config(), "smtpd"));
        assertEquals("smtp", smtp.get("default-transport"));
        assertNull(smtp.get("relayhost"));
        assertEquals(Map.of("example.com", "ses:email-smtp.us-east-1.amazonaws.com",
                "user-1@example.net", "ses:email-smtp.us-east-1.amazonaws.com"), smtp.get("transport-maps"));
        assertEquals(Map.of("ses", Map.of("tls-security-level", "encrypt",
                "tls-ca-file", "/etc/ssl/certs/ca-bundle.crt",
                "sasl-password-file", "/etc/postfix/sasl-ses",
                "fallback-relay", List.of())), smtp.get("transports"));
        assertEquals(List.of("/etc/postfix/transport", "/etc/postfix/sasl-ses"), r.tablesRead());
        assertTrue(reason(r, "main.cf: mydestination").contains("local delivery"));
        assertTrue(notCarriedSettings(r).containsAll(Set.of("master.cf ses: -o smtp_sasl_mechanism_filter",
                "master.cf ses: -o smtp_tls_note_starttls_offer", "master.cf relay: -o syslog_name",
                "main.cf: myorigin")), r.notCarried().toString());

        Router router = router("ses-selected-destinations", r);
        for (String rcpt : List.of("someone@example.com", "user-1@example.net")) {
            Route ses = router.route(rcpt, "app@example.jp");
            assertEquals("ses", ses.transport(), rcpt);
            assertEquals(NextHop.parse("email-smtp.us-east-1.amazonaws.com"), ses.nextHop());
            assertEquals(TlsLevel.ENCRYPT, ses.tlsLevel());
            assertEquals("AKIAEXAMPLESESUSER1", ses.credentials().username());
            assertEquals(List.of(), ses.fallbackRelays());
        }
        for (String rcpt : List.of("user-2@example.net", "a@sub.example.com", "b@gmail.com")) {
            Route direct = router.route(rcpt, "app@example.jp");
            assertEquals("smtp", direct.transport(), rcpt);
            assertTrue(direct.nextHop().mxLookup(), rcpt);
            assertEquals(rcpt.substring(rcpt.indexOf('@') + 1), direct.nextHop().host());
            assertNull(direct.credentials());
        }
    }

    @Test
    void sesRelayhost587() {
        ImportResult r = PostfixImport.run(FixtureSetups.files("ses-relayhost-587"));
        Map<String, Object> smtp = section(r.config(), "smtp");
        assertEquals("[email-smtp.us-east-1.amazonaws.com]:587", smtp.get("relayhost"));
        assertEquals("encrypt", smtp.get("tls-security-level"));
        assertEquals("/etc/ssl/certs/ca-bundle.crt", smtp.get("tls-ca-file"));
        assertEquals("/etc/postfix/sasl_passwd", smtp.get("sasl-password-file"));
        assertFalse(smtp.containsKey("transports"));
        assertTrue(reason(r, "main.cf: smtp_use_tls").contains("obsolete"));
        assertTrue(reason(r, "main.cf: smtp_sasl_security_options").startsWith("ignored"));

        Route route = router("ses-relayhost-587", r).route("anyone@gmail.com", "app@hogehoge.com");
        assertEquals(NextHop.parse("[email-smtp.us-east-1.amazonaws.com]:587"), route.nextHop());
        assertEquals("AKIAEXAMPLESESUSER2", route.credentials().username());
        assertEquals(TlsLevel.ENCRYPT, route.tlsLevel());
        assertEquals("default_transport; relayhost", route.matchedBy());
    }

    @Test
    void elbRelayMynetworks() {
        ImportResult r = PostfixImport.run(FixtureSetups.files("elb-relay-mynetworks"));
        Map<String, Object> smtpd = section(r.config(), "smtpd");
        assertEquals(List.of("127.0.0.0/8", "10.0.0.0/16"), smtpd.get("mynetworks"));
        assertEquals(List.of("example.co.jp"), smtpd.get("relay-domains"));
        assertEquals(20480000L, smtpd.get("message-size-limit"));
        assertEquals(Map.of("example.co.jp", "smtp:[mx.internal.example.co.jp]:25"),
                section(r.config(), "smtp").get("transport-maps"));
        assertTrue(notCarriedSettings(r).contains("master.cf:2: submission inet smtpd"), r.notCarried().toString());
        assertTrue(reason(r, "main.cf: smtp_tls_security_level").contains("may"));

        Router router = router("elb-relay-mynetworks", r);
        Route bounce = router.route("bounce@example.co.jp", "");
        assertEquals(NextHop.parse("[mx.internal.example.co.jp]"), bounce.nextHop());
        assertEquals("transport_maps: example.co.jp", bounce.matchedBy());
        Route out = router.route("customer@example.org", "app@example.co.jp");
        assertEquals(new NextHop("example.org", 25, true), out.nextHop());
        assertTrue(NetworkSet.parse(List.of("127.0.0.0/8", "10.0.0.0/16")).openRelayRisks().isEmpty());
    }

    @Test
    void sesRelayhostPort25() {
        ImportResult r = PostfixImport.run(FixtureSetups.files("ses-relayhost-port25"));
        Map<String, Object> smtp = section(r.config(), "smtp");
        assertFalse(section(r.config(), "smtpd").containsKey("hostname"), "myhostname unset: the machine's name");
        assertEquals("[email-smtp.ap-northeast-1.amazonaws.com]:25", smtp.get("relayhost"));
        assertEquals("encrypt", smtp.get("tls-security-level"), "SASL over a plaintext session is not imported");
        assertTrue(reason(r, "main.cf: smtp_tls_security_level").contains("clear text"));
        assertTrue(reason(r, "main.cf: mydomain").contains("rewrite"));

        Route route = router("ses-relayhost-port25", r).route("x@example.com", "app@aws-master.net");
        assertEquals("[email-smtp.ap-northeast-1.amazonaws.com]", route.nextHop().text());
        assertEquals("AKIAEXAMPLESESUSER3", route.credentials().username());
        assertEquals("exampleSes/Secret+3", route.credentials().password());
    }

    @Test
    void smarthostSandboxRate() {
        ImportResult r = PostfixImport.run(FixtureSetups.files("smarthost-sandbox-rate"));
        Map<String, Object> smtp = section(r.config(), "smtp");
        assertEquals(1, smtp.get("destination-concurrency-limit"));
        assertEquals(List.of("1/s"), smtp.get("destination-rate"));
        assertEquals("/usr/local/etc/postfix/sasl_passwd", smtp.get("sasl-password-file"));
        assertEquals("/etc/ssl/cert.pem", smtp.get("tls-ca-file"));
        assertTrue(reason(r, "main.cf: smtp_extra_recipient_limit").startsWith("ignored"));

        Route route = router("smarthost-sandbox-rate", r).route("x@example.com", "app@example.jp");
        assertEquals(new Route.Limits(1, List.of("1/s")), route.limits());
        assertEquals("AKIAEXAMPLESESUSER4", route.credentials().username());
        assertEquals(NextHop.parse("[email-smtp.cc-direction-1.amazonaws.com]:587"), route.nextHop());
    }

    @Test
    void mainCfContinuationExpansionDefaultsAndTables() {
        String mainCf = """
                # comment
                myhostname = mx1.corp.example
                relay_domains = $mydomain,
                    ${mydomain_extra}
                mydomain_extra = other.example
                mynetworks = 127.0.0.0/8, fe80::/10 hash:/etc/postfix/networks
                relayhost = [gw.corp.example]:587
                smtp_fallback_relay = [backup.corp.example]:587
                default_destination_concurrency_limit = 7
                transport_maps = texthash:/etc/postfix/transport
                fast_destination_rate_delay = 20s
                maximal_queue_lifetime = 3
                minimal_backoff_time = 5m
                queue_minfree = 2147483648
                smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd
                sender_dependent_relayhost_maps = hash:/etc/postfix/sender_relay
                """;
        String masterCf = """
                fast      unix  -       -       n       -       -       smtp
                  -o smtp_tls_security_level=verify
                  -o smtp_bind_address=192.0.2.1
                unused    unix  -       -       n       -       -       smtp
                """;
        Map<String, String> tables = Map.of(
                "/etc/postfix/networks", "# vpc\n10.1.0.0/16 OK\n",
                "/etc/postfix/transport", "partner.example fast:[in.partner.example]\n",
                "/etc/postfix/sasl_passwd", "[gw.corp.example]:587 u:p\n",
                "/etc/postfix/sender_relay", "@tenant.example [tenant-gw.example]\n");
        ImportResult r = PostfixImport.run(new PostfixFiles(mainCf, masterCf, p -> Optional.ofNullable(tables.get(p))));
        Map<String, Object> smtpd = section(r.config(), "smtpd");
        Map<String, Object> smtp = section(r.config(), "smtp");
        assertEquals(List.of("corp.example", "other.example"), smtpd.get("relay-domains"), "default mydomain, ${}, continuation");
        assertEquals(List.of("127.0.0.0/8", "fe80::/10", "10.1.0.0/16"), smtpd.get("mynetworks"));
        assertEquals(7, smtp.get("destination-concurrency-limit"));
        assertEquals(List.of("[backup.corp.example]:587"), smtp.get("fallback-relay"));
        assertEquals(Map.of("@tenant.example", "[tenant-gw.example]"), smtp.get("sender-dependent-relayhost-maps"));
        assertEquals(Map.of("fast", Map.of("tls-security-level", "verify", "rate", List.of("3/m"), "concurrency", 1)),
                smtp.get("transports"));
        assertEquals(Map.of("maximal-queue-lifetime", "3d", "minimal-backoff-time", "5m", "min-free-bytes", 2147483648L),
                section(r.config(), "queue"));
        assertTrue(reason(r, "master.cf:4: unused unix smtp").contains("not referenced"));
        assertTrue(notCarriedSettings(r).contains("master.cf fast: -o smtp_bind_address"));
        assertTrue(reason(r, "main.cf: smtp_sasl_password_maps").contains("smtp_sasl_auth_enable"),
                "a password map without smtp_sasl_auth_enable=yes is noted, not carried");
        assertFalse(smtp.containsKey("sasl-password-file"));
    }

    @Test
    void unreadableTableFailsNamingThePath() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PostfixImport.run(
                new PostfixFiles("transport_maps = hash:/etc/postfix/transport\n", "", p -> Optional.empty())));
        assertTrue(e.getMessage().contains("/etc/postfix/transport"), e.getMessage());
    }
}
