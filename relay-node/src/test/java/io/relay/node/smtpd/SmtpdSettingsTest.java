package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.config.ConfigException;
import io.relay.node.config.ConfigLoader;
import io.relay.node.config.HostPort;
import io.relay.node.config.RelayConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmtpdSettingsTest {
    @Test
    void takesEverySmtpdKey() {
        RelayConfig.Smtpd smtpd = new RelayConfig.Smtpd();
        smtpd.listen = List.of(new HostPort("127.0.0.1", 0), new HostPort("::1", 2525));
        smtpd.messageSizeLimit = 1234;
        smtpd.recipientLimit = 7;
        smtpd.lineLengthLimit = 999;
        smtpd.timeout = Duration.ofSeconds(42);
        smtpd.maxConnections = 3;
        smtpd.hopcountLimit = 9;
        SmtpdSettings s = SmtpdSettings.from(smtpd, "mx.example");
        assertEquals(new SmtpdSettings("mx.example",
                List.of(new InetSocketAddress("127.0.0.1", 0), new InetSocketAddress("::1", 2525)),
                1234, 7, 999, Duration.ofSeconds(42), 3, 9, 20), s);
    }

    @Test
    void proxyProtocolIsOffByDefaultAndRequiredOnceTrustedNetworksAreSet() {
        RelayConfig off = ConfigLoader.parse("smtpd:\n  hostname: mx.example\n", "test.yaml");
        assertFalse(SmtpdSettings.from(off.smtpd, "mx.example").proxyProtocol().enabled());

        RelayConfig on = ConfigLoader.parse("smtpd:\n  proxy-protocol:\n    trusted-networks: [10.0.0.0/8, 'fd00::/8']\n",
                "test.yaml");
        ProxyProtocolSettings p = SmtpdSettings.from(on.smtpd, "mx.example").proxyProtocol();
        assertEquals(new ProxyProtocolSettings(List.of("10.0.0.0/8", "fd00::/8"), true), p);

        RelayConfig optional = ConfigLoader.parse(
                "smtpd:\n  proxy-protocol:\n    trusted-networks: [10.0.0.0/8]\n    required: false\n", "test.yaml");
        assertFalse(SmtpdSettings.from(optional.smtpd, "mx.example").proxyProtocol().required());
    }

    @Test
    void badTrustedNetworkIsAConfigError() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "smtpd:\n  proxy-protocol:\n    trusted-networks: [10.0.0.0/33]\n", "test.yaml"));
        assertTrue(e.getMessage().startsWith("test.yaml: smtpd.proxy-protocol.trusted-networks: "), e.getMessage());
    }

    @Test
    void bareNewlineAndReceiveMemoryKeys() {
        SmtpdSettings defaults = SmtpdSettings.from(ConfigLoader.parse("", "test.yaml").smtpd, "mx.example");
        assertEquals(BareNewline.NORMALIZE, defaults.bareNewline());
        assertEquals(0, defaults.receiveMemoryLimit());
        // unquoted no/yes are YAML 1.1 booleans: they still mean Postfix's values
        for (var row : java.util.Map.of("no", BareNewline.NO, "yes", BareNewline.NORMALIZE, "reject", BareNewline.REJECT,
                "'no'", BareNewline.NO).entrySet()) {
            RelayConfig c = ConfigLoader.parse("smtpd:\n  forbid-bare-newline: " + row.getKey()
                    + "\n  receive-memory-limit: 67108864\n", "test.yaml");
            SmtpdSettings s = SmtpdSettings.from(c.smtpd, "mx.example");
            assertEquals(row.getValue(), s.bareNewline(), row.getKey());
            assertEquals(64L << 20, s.receiveMemoryLimit());
        }
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "smtpd:\n  forbid-bare-newline: lenient\n", "test.yaml"));
        assertEquals("test.yaml: smtpd.forbid-bare-newline: 'lenient' is not one of normalize, reject, no", e.getMessage());
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("smtpd:\n  receive-memory-limit: -1\n", "test.yaml"));
        assertEquals(1L << 30, ReceiveMemory.defaultLimit(4L << 30), "a quarter of the heap");
    }
}
