package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class CommandParserTest {
    private final CommandParser parser = new CommandParser();

    static Stream<Arguments> commands() {
        return Stream.of(
                Arguments.of("EHLO client.example", new SmtpCommand.Ehlo("client.example")),
                Arguments.of("ehlo [127.0.0.1]", new SmtpCommand.Ehlo("[127.0.0.1]")),
                Arguments.of("HeLo x", new SmtpCommand.Helo("x")),
                Arguments.of("MAIL FROM:<a@b.example>", mail("a@b.example", Map.of())),
                Arguments.of("mail from:<a@b.example>", mail("a@b.example", Map.of())),
                Arguments.of("MAIL FROM: <a@b.example>", mail("a@b.example", Map.of())),
                Arguments.of("MAIL FROM:<>", mail("", Map.of())),
                Arguments.of("MAIL FROM:<> SIZE=100 body=8bitmime", mail("", Map.of("SIZE", "100", "BODY", "8bitmime"))),
                Arguments.of("MAIL FROM:<\"john doe\"@b.example>", mail("\"john doe\"@b.example", Map.of())),
                Arguments.of("MAIL FROM:<\"a\\\"b\"@b.example>", mail("\"a\\\"b\"@b.example", Map.of())),
                Arguments.of("MAIL FROM:<u@[192.0.2.1]>", mail("u@[192.0.2.1]", Map.of())),
                Arguments.of("MAIL FROM:<u@[IPv6:2001:db8::1]>", mail("u@[IPv6:2001:db8::1]", Map.of())),
                Arguments.of("MAIL FROM:<u@[IPv6:::ffff:192.0.2.1]>", mail("u@[IPv6:::ffff:192.0.2.1]", Map.of())),
                Arguments.of("MAIL FROM:<jörg@bücher.example> SMTPUTF8", mail("jörg@bücher.example", paramMap("SMTPUTF8"))),
                Arguments.of("RCPT TO:<u@d.example>", rcpt("u@d.example")),
                Arguments.of("RCPT TO: <u@d.example>", rcpt("u@d.example")),
                Arguments.of("RCPT TO:<@a.example,@b.example:u@d.example>", rcpt("u@d.example")),
                Arguments.of("RCPT TO:<Postmaster>", rcpt("Postmaster")),
                Arguments.of("RCPT TO:<first.last+tag@sub.d-x.example>", rcpt("first.last+tag@sub.d-x.example")),
                Arguments.of("DATA", new SmtpCommand.Data()),
                Arguments.of("AUTH PLAIN", new SmtpCommand.Auth("PLAIN", null)),
                Arguments.of("auth login dXNlcg==", new SmtpCommand.Auth("LOGIN", "dXNlcg==")),
                Arguments.of("AUTH PLAIN =", new SmtpCommand.Auth("PLAIN", "=")),
                Arguments.of("AUTH", new SmtpCommand.SyntaxError("auth", "501 5.5.4 Syntax: AUTH mechanism")),
                Arguments.of("AUTH PLAIN a b", new SmtpCommand.SyntaxError("auth", "501 5.5.4 Syntax: AUTH mechanism")),
                Arguments.of("rset", new SmtpCommand.Rset()),
                Arguments.of("NOOP anything", new SmtpCommand.Noop()),
                Arguments.of("QUIT", new SmtpCommand.Quit()),
                Arguments.of("VRFY root", new SmtpCommand.Vrfy("root")),
                Arguments.of("HELP", new SmtpCommand.Help()),
                Arguments.of("StartTLS", new SmtpCommand.StartTls()),
                Arguments.of("BDAT 100 LAST", new SmtpCommand.Unknown("BDAT")),
                Arguments.of("EHLO", new SmtpCommand.SyntaxError("ehlo", "501 5.5.4 Syntax: EHLO hostname")),
                Arguments.of("HELO ", new SmtpCommand.SyntaxError("helo", "501 5.5.4 Syntax: HELO hostname")),
                Arguments.of("EHLO evil\rX-Injected:yes\u0000\u001b[31m",
                        new SmtpCommand.SyntaxError("ehlo", "501 5.5.2 Error: control characters in EHLO argument")),
                Arguments.of("HELO a\u202Eb.example",
                        new SmtpCommand.SyntaxError("helo", "501 5.5.2 Error: control characters in HELO argument")),
                Arguments.of("EHLO x\u2028y", new SmtpCommand.SyntaxError("ehlo", "501 5.5.2 Error: control characters in EHLO argument")),
                Arguments.of("MAIL <a@b>", new SmtpCommand.SyntaxError("mail", "501 5.5.4 Syntax: MAIL FROM:<address>")),
                Arguments.of("MAIL FROM:a@b", new SmtpCommand.SyntaxError("mail", CommandParser.BAD_SENDER)),
                Arguments.of("MAIL FROM:<a@b", new SmtpCommand.SyntaxError("mail", CommandParser.BAD_SENDER)),
                Arguments.of("MAIL FROM:<a@@b>", new SmtpCommand.SyntaxError("mail", CommandParser.BAD_SENDER)),
                Arguments.of("MAIL FROM:<a..b@c>", new SmtpCommand.SyntaxError("mail", CommandParser.BAD_SENDER)),
                Arguments.of("MAIL FROM:<a@-b.example>", new SmtpCommand.SyntaxError("mail", CommandParser.BAD_SENDER)),
                Arguments.of("MAIL FROM:<a@[300.1.1.1]>", new SmtpCommand.SyntaxError("mail", CommandParser.BAD_SENDER)),
                Arguments.of("MAIL FROM:<a@[IPv6:1:2:3]>", new SmtpCommand.SyntaxError("mail", CommandParser.BAD_SENDER)),
                Arguments.of("MAIL FROM:<jörg@b.example>", new SmtpCommand.SyntaxError("mail", CommandParser.NEED_UTF8)),
                Arguments.of("MAIL FROM:<a@b> SIZE=", new SmtpCommand.SyntaxError("mail", "501 5.5.4 Bad MAIL parameter syntax")),
                Arguments.of("MAIL FROM:<a@b>SIZE=1", new SmtpCommand.SyntaxError("mail", "501 5.5.4 Bad MAIL parameter syntax")),
                Arguments.of("RCPT <u@d>", new SmtpCommand.SyntaxError("rcpt", "501 5.5.4 Syntax: RCPT TO:<address>")),
                Arguments.of("RCPT TO:<>", new SmtpCommand.SyntaxError("rcpt", CommandParser.BAD_RECIPIENT)),
                Arguments.of("RCPT TO:<u>", new SmtpCommand.SyntaxError("rcpt", CommandParser.BAD_RECIPIENT)),
                Arguments.of("RCPT TO:<@a.example:>", new SmtpCommand.SyntaxError("rcpt", CommandParser.BAD_RECIPIENT)),
                Arguments.of("RCPT TO:<ü@d.example>", new SmtpCommand.SyntaxError("rcpt", CommandParser.NEED_UTF8)),
                Arguments.of("DATA x", new SmtpCommand.SyntaxError("data", "501 5.5.4 Syntax: DATA")),
                Arguments.of("QUIT now", new SmtpCommand.SyntaxError("quit", "501 5.5.4 Syntax: QUIT")),
                Arguments.of("STARTTLS x", new SmtpCommand.SyntaxError("starttls", "501 5.5.4 Syntax: STARTTLS")),
                Arguments.of("VRFY", new SmtpCommand.SyntaxError("vrfy", "501 5.5.4 Syntax: VRFY address")),
                Arguments.of("", new SmtpCommand.SyntaxError("unknown", CommandParser.BAD_SYNTAX)));
    }

    private static Map<String, String> paramMap(String bareKey) {
        var m = new java.util.HashMap<String, String>();
        m.put(bareKey, null);
        return m;
    }

    private static SmtpCommand.Mail mail(String a, Map<String, String> p) {
        return new SmtpCommand.Mail(new SmtpCommand.ReversePath(a), p);
    }

    private static SmtpCommand.Rcpt rcpt(String a) {
        return new SmtpCommand.Rcpt(new SmtpCommand.ForwardPath(a), Map.of());
    }

    @ParameterizedTest
    @MethodSource("commands")
    void parses(String line, SmtpCommand expected) {
        assertEquals(expected, parser.parse(line, false));
    }

    @Test
    void utf8RecipientAllowedInUtf8Transaction() {
        assertEquals(rcpt("ü@d.example"), parser.parse("RCPT TO:<ü@d.example>", true));
    }

    private static final String ALPHABET = "<>@.:,[]\"\\ =aZ9";

    @Test
    void randomBytesNeverThrow() {
        Random random = new Random(42);
        String[] prefixes = {"", "MAIL FROM:", "RCPT TO:", "MAIL FROM:<", "RCPT TO:<@", "EHLO ", "MAIL FROM:<a@["};
        for (int i = 0; i < 20_000; i++) {
            byte[] b = new byte[random.nextInt(40)];
            for (int k = 0; k < b.length; k++) {
                b[k] = (byte) (random.nextBoolean() ? ALPHABET.charAt(random.nextInt(ALPHABET.length())) : random.nextInt(256));
            }
            String line = prefixes[random.nextInt(prefixes.length)] + new String(b, StandardCharsets.ISO_8859_1);
            SmtpCommand c = parser.parse(line, random.nextBoolean());
            assertNotNull(c);
            if (c instanceof SmtpCommand.Mail m) {
                assertNotNull(m.from().address());
            }
        }
        assertInstanceOf(SmtpCommand.SyntaxError.class, parser.parse("MAIL FROM:<\u0000@x>", false));
    }
}
