package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class MessageAssemblyTest {
    private static final Instant NOW = Instant.parse("2026-11-22T21:35:53Z");
    private final MessageAssembly assembly = new MessageAssembly("relay.test", 3);

    private static String text(MessageAssembly.Result r) {
        return new String(((MessageAssembly.Result.Assembled) r).content(), StandardCharsets.UTF_8);
    }

    private MessageAssembly.Result run(String message, String rcpt) {
        return assembly.assemble(message.getBytes(StandardCharsets.UTF_8), "3F2A9C01B7", "web1", "192.0.2.7", "ESMTP",
                rcpt, NOW);
    }

    @Test
    void addsReceivedMessageIdAndDateWhenMissing() {
        MessageAssembly.Result r = run("Subject: x\r\n\r\nbody\r\n", "u@d.example");
        assertEquals("Received: from web1 (unknown [192.0.2.7])\r\n"
                + "\tby relay.test (relay) with ESMTP id 3F2A9C01B7\r\n"
                + "\tfor <u@d.example>; Sun, 22 Nov 2026 21:35:53 +0000\r\n"
                + "Message-ID: <20261122213553.3F2A9C01B7@relay.test>\r\n"
                + "Date: Sun, 22 Nov 2026 21:35:53 +0000\r\n"
                + "Subject: x\r\n\r\nbody\r\n", text(r));
        assertEquals("<20261122213553.3F2A9C01B7@relay.test>", ((MessageAssembly.Result.Assembled) r).messageId());
    }

    @Test
    void keepsExistingMessageIdAndDateAndOmitsForWithSeveralRecipients() {
        MessageAssembly.Result r = run("date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMESSAGE-ID: <abc@web>\r\n\r\nDate: body\r\n", null);
        assertEquals("Received: from web1 (unknown [192.0.2.7])\r\n"
                + "\tby relay.test (relay) with ESMTP id 3F2A9C01B7;\r\n"
                + "\tSun, 22 Nov 2026 21:35:53 +0000\r\n"
                + "date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMESSAGE-ID: <abc@web>\r\n\r\nDate: body\r\n", text(r));
        assertEquals("<abc@web>", ((MessageAssembly.Result.Assembled) r).messageId());
    }

    @Test
    void clientTextInTheReceivedHeaderIsMasked() {
        MessageAssembly.Result r = assembly.assemble("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.UTF_8),
                "3F2A9C01B7", "evil\rX-Injected:yes\u0000\u001b[31m", "192.0.2.7", "UTF8SMTP",
                "ab\u202Ecd\u2028x@d.example", NOW);
        assertEquals("Received: from evil?X-Injected:yes??[31m (unknown [192.0.2.7])\r\n"
                + "\tby relay.test (relay) with UTF8SMTP id 3F2A9C01B7\r\n"
                + "\tfor <ab?cd?x@d.example>; Sun, 22 Nov 2026 21:35:53 +0000\r\n", text(r).substring(0, text(r).indexOf("Message-ID:")));
    }

    @Test
    void headersInTheBodyDoNotCount() {
        String body = "\r\n" + "Received: x\r\n".repeat(10) + "Message-ID: <no@body>\r\n";
        MessageAssembly.Result r = run("Subject: s" + "\r\n" + body, "u@d");
        assertEquals("<20261122213553.3F2A9C01B7@relay.test>", ((MessageAssembly.Result.Assembled) r).messageId());
    }

    @Test
    void moreReceivedHeadersThanTheLimitIsALoop() {
        String three = "Received: a\r\nreceived: b\r\n\tfolded\r\nRECEIVED: c\r\n";
        assertInstanceOf(MessageAssembly.Result.Assembled.class, run(three + "\r\nx\r\n", "u@d"));
        assertEquals(new MessageAssembly.Result.TooManyHops(4), run(three + "Received: d\r\n\r\nx\r\n", "u@d"));
    }
}
