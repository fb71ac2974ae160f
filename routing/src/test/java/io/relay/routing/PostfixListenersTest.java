package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Where Postfix's smtpd listened (master.cf inet services, inet_interfaces, inet_protocols) as smtpd.listen. */
class PostfixListenersTest {

    @ParameterizedTest(name = "{0} | {1} | {2} -> {3}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            // inet_interfaces | inet_protocols | master.cf inet services (name:command, ';'-separated) | listen
            "all            | ipv4       | smtp:smtpd                       | 0.0.0.0:25",
            "all            | all        | smtp:smtpd                       | [::]:25",
            "-              | -          | smtp:smtpd                       | [::]:25",
            "all            | ipv4, ipv6 | smtp:smtpd                       | [::]:25",
            "loopback-only  | ipv4       | smtp:smtpd                       | 127.0.0.1:25",
            "loopback-only  | all        | smtp:smtpd                       | 127.0.0.1:25 [::1]:25",
            "localhost      | -          | smtp:smtpd                       | 127.0.0.1:25 [::1]:25",
            "10.0.0.5, [fd00::5] | all   | smtp:smtpd                       | 10.0.0.5:25 [fd00::5]:25",
            "127.0.0.1      | ipv4       | 2526:smtpd                       | 127.0.0.1:2526",
            "all            | ipv4       | smtp:smtpd;127.0.0.1:2526:smtpd  | 0.0.0.0:25 127.0.0.1:2526",
            "all            | ipv4       | smtp:postscreen;smtpd:smtpd      | 0.0.0.0:25",
            "all            | ipv4       | smtp:smtpd;submission:smtpd;smtps:smtpd;587:smtpd | 0.0.0.0:25",
            "all            | ipv4       | 10025:smtp                       | -",
    })
    void listenersAsPostfixBoundThem(String interfaces, String protocols, String services, String expected) {
        List<PostfixListeners.Inet> inet = new ArrayList<>();
        for (String s : services.split(";")) {
            int colon = s.lastIndexOf(':');
            inet.add(new PostfixListeners.Inet(s.substring(0, colon), s.substring(colon + 1), 1, Set.of()));
        }
        PostfixListeners.Result r = PostfixListeners.of(Optional.ofNullable(interfaces), Optional.ofNullable(protocols),
                inet, true);
        assertEquals(expected == null ? List.of() : List.of(expected.split(" ")), r.listen(), r.notes().toString());
    }

    @ParameterizedTest
    @CsvSource({"submission", "smtps", "587", "465", "submissions"})
    void submissionPortsAreListedAsNotCarriedWithoutClaimingAuth(String service) {
        PostfixListeners.Result r = PostfixListeners.of(Optional.of("all"), Optional.of("ipv4"),
                List.of(new PostfixListeners.Inet(service, "smtpd", 12, Set.of("smtpd_sasl_auth_enable"))), true);
        NotCarried n = r.notes().stream().filter(x -> x.setting().equals("master.cf:12: " + service + " inet smtpd"))
                .findFirst().orElseThrow(() -> new AssertionError(r.notes().toString()));
        assertTrue(n.reason().contains("not offered by this relay"), n.reason());
        assertTrue(r.notes().stream().anyMatch(x -> x.setting().equals("smtpd.listen")), "default kept, and said");
    }

    @Test
    void noMasterCfMeansPostfixsStockSmtpInetLine() {
        PostfixListeners.Result r = PostfixListeners.of(Optional.of("all"), Optional.of("ipv4"), List.of(), false);
        assertEquals(List.of("0.0.0.0:25"), r.listen());
        assertTrue(r.notes().stream().anyMatch(n -> n.setting().equals("master.cf") && n.reason().contains("stock")),
                r.notes().toString());
    }
}
