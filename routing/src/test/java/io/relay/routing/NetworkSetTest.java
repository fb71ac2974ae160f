package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class NetworkSetTest {
    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', value = {
            "0.0.0.0/0       | whole IPv4",
            "::/0            | whole IPv6",
            "8.0.0.0/8       | public range wider than /16",
            "52.0.0.0/15     | public range wider than /16",
            "2001::/16       | public range wider than /32",
            "8.0.0.0/7       | public range wider than /16",
    })
    void flagsOpenRelayRisks(String cidr, String reason) {
        List<String> risks = NetworkSet.parse(List.of("127.0.0.0/8", cidr)).openRelayRisks();
        assertEquals(1, risks.size(), risks.toString());
        assertTrue(risks.get(0).contains(reason), risks.get(0));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @ValueSource(strings = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
            "52.1.0.0/16", "203.0.113.7", "fc00::/7", "fe80::/10", "::1/128", "2001:db8::/32", "[::1]/128"})
    void acceptsPrivateAndNarrowRanges(String cidr) {
        assertEquals(List.of(), NetworkSet.parse(List.of(cidr)).openRelayRisks());
    }

    @Test
    void parseRefusesHostBitsNamingTheNetwork() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NetworkSet.parse(List.of("10.0.0.1/16")));
        assertTrue(e.getMessage().contains("10.0.0.0/16"), e.getMessage());
    }
}
