package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
