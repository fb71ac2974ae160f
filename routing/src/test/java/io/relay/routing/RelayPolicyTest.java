package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
 * reject_unauth_destination, with relay_domains matching the domain and its subdomains.
 */
class RelayPolicyTest {
    private final RelayPolicy policy = new RelayPolicy(NetworkSet.parse(List.of("10.0.0.0/16", "2001:db8::/32")),
            Set.of("Example.JP"));

    @ParameterizedTest(name = "{0} auth={1} -> {2}: {3}")
    @CsvSource({
            "10.0.3.7,        false, someone@example.org,      true",
            "10.1.0.1,        false, someone@example.org,      false",
            "203.0.113.5,     false, someone@example.org,      false",
            "203.0.113.5,     true,  someone@example.org,      true",
            "203.0.113.5,     false, bounces@example.jp,       true",
            "203.0.113.5,     false, bounces@mail.EXAMPLE.jp,  true",
            "203.0.113.5,     false, bounces@notexample.jp,    false",
            "203.0.113.5,     false, bounces@example.jp.evil,  false",
            "2001:db8::25,    false, someone@example.org,      true",
            "2001:db9::25,    false, someone@example.org,      false",
            "::ffff:10.0.0.9, false, someone@example.org,      true",
    })
    void relayDecision(String client, boolean authenticated, String rcpt, boolean permitted) throws Exception {
        assertEquals(permitted, policy.permitted(InetAddress.getByName(client), authenticated, rcpt));
    }
}
