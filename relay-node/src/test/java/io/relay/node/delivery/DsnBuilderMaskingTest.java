package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.queue.Envelope;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Client text that the notification writes into header fields is masked (issue 16, item 10). */
class DsnBuilderMaskingTest {
    @Test
    void separatorsAndBidiControlsOfAnSmtputf8AddressDoNotReachTheHeaders() {
        String sender = "app\u2028X-Forged-1\u202E@app.test";
        String rcpt = "u\u0085ser\u202D@d.example";
        QueuedMessage m = new QueuedMessage(new QueueId("3F2A9C01B7"), new Envelope(sender, List.of(rcpt), "unknown",
                "192.0.2.7", "web1", "UTF8SMTP", true, false, 0L),
                "Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.UTF_8));
        byte[] dsn = new DsnBuilder("relay.test").build(m, List.of(new DsnBuilder.Failure(rcpt, "5.1.1", null,
                "550 5.1.1 no\u001b[31m such user", "host said no")), Instant.parse("2026-11-22T21:35:53Z"));
        String text = new String(dsn, StandardCharsets.UTF_8);
        for (char c : new char[] {'\u2028', '\u202E', '\u0085', '\u202D', '\u001b'}) {
            assertFalse(text.indexOf(c) >= 0, "raw U+" + Integer.toHexString(c) + " in\n" + text);
        }
        assertTrue(text.contains("Final-Recipient: rfc822; u?ser?@d.example"), text);
        assertTrue(text.contains("X-Relay-Sender: rfc822; app?X-Forged-1?@app.test"), text);
        assertTrue(text.contains("Diagnostic-Code: smtp; 550 5.1.1 no?[31m such user"), text);
    }
}
