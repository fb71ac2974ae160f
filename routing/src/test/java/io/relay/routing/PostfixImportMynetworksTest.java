package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** A main.cf without mynetworks: Postfix trusts the host's subnets; we say we did not. */
class PostfixImportMynetworksTest {

    @Test
    void unsetMynetworksIsReportedNotGuessed() {
        ImportResult r = PostfixImport.run(new PostfixFiles("relayhost = [smarthost.example]:587\n", "", null));
        assertFalse(((Map<?, ?>) r.config().getOrDefault("smtpd", Map.of())).containsKey("mynetworks"));
        assertTrue(r.notCarried().stream().anyMatch(n -> n.setting().contains("mynetworks")
                && n.reason().contains("loopback")), () -> r.notCarried().toString());
    }

    @Test
    void explicitMynetworksIsCarriedWithoutTheNote() {
        ImportResult r = PostfixImport.run(new PostfixFiles("mynetworks = 10.0.0.0/16\n", "", null));
        assertTrue(r.notCarried().stream().noneMatch(n -> n.setting().contains("mynetworks")), () -> r.notCarried().toString());
    }
}
