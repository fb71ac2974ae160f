package io.relay.node.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SortedMap;
import org.junit.jupiter.api.Test;

/** A loaded configuration as YAML keys and values, defaults included: what a reload compares. */
class ConfigKeysTest {

    @Test
    void keysAreTheYamlKeysWithValuesAsWritten() {
        SortedMap<String, String> keys = ConfigKeys.of(ConfigLoader.parse("""
                smtpd:
                  timeout: 60s
                  listen: ["127.0.0.1:2526"]
                smtp:
                  transports:
                    ses: { nexthop: "[email-smtp.us-east-1.amazonaws.com]:587" }
                """, "relay.yaml"));
        assertEquals("1m", keys.get("smtpd.timeout"));
        assertEquals("1000", keys.get("smtpd.recipient-limit"), "defaults are keys too");
        assertEquals("[\"127.0.0.1:2526\"]", keys.get("smtpd.listen"), "a list is one value");
        assertEquals("30s", keys.get("health.drain-delay"));
        assertEquals("var/spool", keys.get("queue.spool-dir"));
        assertEquals("[email-smtp.us-east-1.amazonaws.com]:587", keys.get("smtp.transports.ses.nexthop"));
        assertTrue(keys.containsKey("cluster.listen"), keys.keySet().toString());
    }

    @Test
    void twoLoadsOfOneFileAreEqual() {
        String yaml = "smtpd:\n  recipient-limit: 5\n";
        assertEquals(ConfigKeys.of(ConfigLoader.parse(yaml, "a")), ConfigKeys.of(ConfigLoader.parse(yaml, "a")));
    }
}
