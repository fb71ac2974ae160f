package io.relay.node.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CidrCheckTest {

    @ParameterizedTest
    @CsvSource({
            "10.0.0.0/16, 10.0.0.0/16, false",
            "10.0.0.1/16, 10.0.0.0/16, true",
            "192.168.7.9/24, 192.168.7.0/24, true",
            "203.0.113.5, 203.0.113.5/32, false",
            "2001:db8::1/48, 2001:db8::/48, true",
            "' 10.1.0.0/16 ', 10.1.0.0/16, false",
    })
    void normalizes(String raw, String network, boolean warned) {
        CidrCheck.Normalized n = CidrCheck.normalize(raw);
        assertEquals(network, n.network());
        assertEquals(warned, n.warning().isPresent(), n.warning().toString());
        n.warning().ifPresent(w -> assertTrue(w.contains("host bits") && w.contains(network), w));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "10.0.0.300/8", "10.0.0.0/33", "example.com", "10.0.0.0/", "not a network"})
    void refusesWhatIsNoNetwork(String raw) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CidrCheck.normalize(raw));
        assertTrue(e.getMessage().contains("CIDR"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    @ParameterizedTest
    @CsvSource({
            "0.0.0.0/0, true",
            "::/0, true",
            "8.0.0.0/8, true",
            "100.0.0.0/15, true",
            "0.0.0.0/1, true",
            "11.0.0.0/8, true",
            "10.0.0.0/7, true",
            "2001::/16, true",
            "203.0.0.0/16, false",
            "203.0.113.0/24, false",
            "10.0.0.0/8, false",
            "172.16.0.0/12, false",
            "192.168.0.0/16, false",
            "127.0.0.0/8, false",
            "fc00::/7, false",
            "2001:db8::/32, false",
    })
    void publicRangesWiderThanSlash16AreOpenRelays(String network, boolean risky) {
        Optional<String> risk = CidrCheck.openRelayRisk(network);
        assertEquals(risky, risk.isPresent(), network + " -> " + risk);
        risk.ifPresent(r -> assertTrue(r.contains("open relay"), r));
    }
}
