package io.relay.node.dkim;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** The test messages, as they would be sent: CRLF line ends, 8-bit where said, not dot-stuffed. */
final class Messages {
    private Messages() {
    }

    static byte[] crlf(String text) {
        return text.replace("\r\n", "\n").replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static final String HEADERS = """
            From: Alice Example <alice@example.com>
            To: bob@example.org
            Subject: a plain message
            Date: Mon, 07 Dec 2026 20:00:00 +0000
            Message-ID: <plain.1@example.com>
            MIME-Version: 1.0
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: 8bit
            """;

    /** Each case by name: a whole message (header block, empty line, body). */
    static Map<String, byte[]> corpus() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("plain", crlf(HEADERS + "\nHello Bob,\n\nthis is a plain message.\n"));
        StringBuilder to = new StringBuilder("To: ");
        for (int i = 0; i < 12; i++) {
            to.append(i == 0 ? "" : ",\n\t").append("Recipient Number ").append(i).append(" <rcpt").append(i)
                    .append("@example.org>");
        }
        m.put("folded", crlf("From: Alice Example <alice@example.com>\n" + to + "\n"
                + "Subject: a very long subject that goes on and on past the seventy-eight characters\n"
                + "  of a line, folded by the sender,   with    runs of   spaces\t\tand tabs   \n"
                + "References: <a1@example.com> <a2@example.com>\n <a3@example.com>\n\t<a4@example.com>\n"
                + "Date: Mon, 07 Dec 2026 20:00:00 +0000\nMessage-ID: <folded.1@example.com>\n"
                + "X-Long-Unsigned: " + "x".repeat(300) + "\n"
                + "\nbody\n"));
        m.put("utf8", crlf(HEADERS.replace("a plain message", "Grüße aus Köln — 日本語") + "\n"
                + "Grüße, Bob!\nこんにちは世界\n\t tabs and spaces \t \nend\n"));
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        for (int b = 0x80; b <= 0xff; b++) {
            raw.write(b);
            if (b % 32 == 31) {
                raw.write('\r');
                raw.write('\n');
            }
        }
        m.put("raw8bit", concat(crlf(HEADERS.replace("charset=utf-8", "charset=iso-8859-1") + "\n"), raw.toByteArray(),
                new byte[] {'c', 'a', 'f', (byte) 0xe9, '\r', '\n'}));
        m.put("dots", crlf(HEADERS + "\n.a line starting with a dot\n..two dots\n.\nnot the end\n"));
        m.put("empty-body", crlf(HEADERS + "\n"));
        m.put("trailing-empty-lines", crlf(HEADERS + "\nbody\n\n\n \t \n\n"));
        m.put("no-final-crlf", concat(crlf(HEADERS + "\n"), "last line without its line end".getBytes(StandardCharsets.US_ASCII)));
        m.put("no-date-no-message-id", crlf("""
                From: alice@example.com
                To: bob@example.org
                Subject: no Date, no Message-ID

                body
                """));
        m.put("two-received-two-to", crlf("""
                Received: from a by b; Mon, 07 Dec 2026 20:00:01 +0000
                Received: from c by d; Mon, 07 Dec 2026 20:00:00 +0000
                From: alice@example.com
                To: first@example.org
                To: second@example.org
                Cc: carol@example.net
                Subject: repeated fields
                Date: Mon, 07 Dec 2026 20:00:02 +0000
                List-Unsubscribe: <https://example.com/u/1>
                List-Unsubscribe-Post: List-Unsubscribe=One-Click

                body
                """));
        return m;
    }
}
