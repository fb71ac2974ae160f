package io.relay.node.dkim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import io.relay.node.testing.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** RFC 6376 §3.4 on exact bytes; pure logic, so table-driven, with the RFC's own example first. */
class CanonicalizationTest {

    private static String body(Canonicalization c, String in, boolean byteAtATime) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BodyCanonicalizer b = new BodyCanonicalizer(c, out);
        byte[] bytes = in.getBytes(StandardCharsets.ISO_8859_1);
        if (byteAtATime) {
            for (byte x : bytes) {
                b.write(x);
            }
        } else {
            b.write(bytes);
        }
        b.close();
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    /** Input and outputs with \r and \n spelled out; every row also fed a byte at a time (a CR split from its LF). */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        // RFC 6376 §3.4.6
        "rfc example          |' C \\r\\nD \\t E\\r\\n\\r\\n\\r\\n' |' C\\r\\nD E\\r\\n'  |' C \\r\\nD \\t E\\r\\n'",
        "empty                |''                             |''               |'\\r\\n'",
        "only line ends       |'\\r\\n\\r\\n\\r\\n'              |''               |'\\r\\n'",
        "no final line end    |abc                            |'abc\\r\\n'       |'abc\\r\\n'",
        "whitespace-only tail |'x\\r\\n \\t\\r\\n\\r\\n'          |'x\\r\\n'         |'x\\r\\n \\t\\r\\n'",
        "leading whitespace   |'  \\tx  y\\r\\n'                 |' x y\\r\\n'       |'  \\tx  y\\r\\n'",
        "bare CR and LF       |'a\\rb\\nc\\r\\n'                 |'a\\rb\\nc\\r\\n'   |'a\\rb\\nc\\r\\n'",
        "CR at the very end   |'abc\\r'                        |'abc\\r\\r\\n'     |'abc\\r\\r\\n'",
        "dot lines unchanged  |'.\\r\\n..x\\r\\n'                 |'.\\r\\n..x\\r\\n'   |'.\\r\\n..x\\r\\n'",
        "empty lines inside   |'a\\r\\n\\r\\n\\r\\nb\\r\\n\\r\\n'      |'a\\r\\n\\r\\n\\r\\nb\\r\\n' |'a\\r\\n\\r\\n\\r\\nb\\r\\n'",
    })
    void bodies(String name, String in, String relaxed, String simple) throws Exception {
        String i = unescape(in);
        for (boolean oneByOne : new boolean[] {false, true}) {
            assertEquals(unescape(relaxed), body(Canonicalization.RELAXED, i, oneByOne), name + " relaxed");
            assertEquals(unescape(simple), body(Canonicalization.SIMPLE, i, oneByOne), name + " simple");
        }
    }

    private static String unescape(String s) {
        return s == null ? "" : s.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t");
    }

    /**
     * A large body of random whitespace, empty lines, dots and 8-bit bytes, streamed from a
     * file, hashes as python3-dkim's canonicalizer hashes it. (It ends in CRLF, as a body
     * sent over SMTP does: dkimpy keeps the whitespace of a last line without CRLF, which
     * §3.4.4 drops, and converts bare CR and LF, so the alphabet has only CRLF line ends.)
     */
    @Test
    void python3DkimHashesARandom8MegabyteBodyAsWeDo(@TempDir Path dir) throws Exception {
        Tools.requirePythonModule("dkim");
        java.util.Random random = new java.util.Random(21);
        String[] tokens = {"\r\n", "\r\n\r\n", " ", "  ", "\t", " \t ", "a", "word", ".", "..", "\u00e9", "\u65e5"};
        Path body = dir.resolve("body");
        try (var out = new java.io.BufferedOutputStream(Files.newOutputStream(body))) {
            long n = 0;
            while (n < 8 << 20) {
                byte[] t = tokens[random.nextInt(tokens.length)].getBytes(StandardCharsets.UTF_8);
                out.write(t);
                n += t.length;
            }
            out.write("\r\n \t\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        Path script = dir.resolve("bh.py");
        Files.writeString(script, String.join("\n",
                "import sys, hashlib, base64",
                "from dkim.canonicalization import Relaxed, Simple",
                "b = open(sys.argv[1], 'rb').read()",
                "for c in (Relaxed, Simple):",
                "    print(base64.b64encode(hashlib.sha256(c.canonicalize_body(b)).digest()).decode())", ""));
        Tools.Run r = Tools.run(Duration.ofSeconds(120), Tools.PYTHON3, script.toString(), body.toString());
        assertEquals(0, r.exit(), r.output());
        String ours;
        try (var relaxed = Files.newInputStream(body); var simple = Files.newInputStream(body)) {
            ours = BodyHasher.of(Canonicalization.RELAXED, relaxed).base64() + "\n"
                    + BodyHasher.of(Canonicalization.SIMPLE, simple).base64() + "\n";
        }
        assertEquals(r.output(), ours);
    }

    @Test
    void emptyBodyHashesAreTheWellKnownOnes() throws Exception {
        // the bh= every DKIM implementation writes for an empty body
        assertEquals("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                BodyHasher.of(Canonicalization.RELAXED, new ByteArrayInputStream(new byte[0])).base64());
        assertEquals("frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=",
                BodyHasher.of(Canonicalization.SIMPLE, new ByteArrayInputStream(new byte[0])).base64());
    }

    @Test
    void headersAsTheRfcExampleAndWithFoldsAnd8BitValues() {
        HeaderBlock block = HeaderBlock.parse("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\nbody is not read\r\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(2, block.fields().size());
        assertEquals("a:X\r\n", h(Canonicalization.RELAXED, block.fields().get(0)));
        assertEquals("b:Y Z\r\n", h(Canonicalization.RELAXED, block.fields().get(1)));
        assertEquals("B : Y\t\r\n\tZ  \r\n", h(Canonicalization.SIMPLE, block.fields().get(1)));

        byte[] utf8 = "Subject:  Grüße \r\n   aus\tKöln  \r\n".getBytes(StandardCharsets.UTF_8);
        HeaderField f = HeaderBlock.parse(utf8).fields().get(0);
        assertEquals("subject:Grüße aus Köln\r\n", new String(Canonicalization.RELAXED.header(f), StandardCharsets.UTF_8));
        assertEquals(new String(utf8, StandardCharsets.UTF_8),
                new String(Canonicalization.SIMPLE.header(f), StandardCharsets.UTF_8));
        assertEquals("x-empty:\r\n", h(Canonicalization.RELAXED, HeaderField.of("X-Empty:   \r\n".getBytes())));
    }

    private static String h(Canonicalization c, HeaderField f) {
        return new String(c.header(f), StandardCharsets.ISO_8859_1);
    }

    @Test
    void theHeaderBlockIsReadUpToItsEmptyLineAndTheStreamLeftAtTheBody() throws Exception {
        ByteArrayInputStream in = new ByteArrayInputStream(
                "From: a@b\r\nSubject: one\r\n two\r\n\r\nFrom: in the body\r\n".getBytes(StandardCharsets.US_ASCII));
        HeaderBlock block = HeaderBlock.read(in);
        assertEquals(List.of("from", "subject"), block.fields().stream().map(HeaderField::lowerName).toList());
        assertEquals("Subject: one\r\n two\r\n", new String(block.fields().get(1).raw(), StandardCharsets.US_ASCII));
        assertEquals("From: in the body\r\n", new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        // a block handed over without its last line end gets one, as it will on the wire
        assertEquals("To: x\r\n", new String(HeaderBlock.parse("To: x".getBytes()).fields().get(0).raw()));
    }

    @Test
    void repeatedFieldsAreSignedBottomUpAndFromOnceMoreThanPresent() {
        HeaderBlock block = HeaderBlock.parse(Messages.crlf("""
                Received: r
                To: first
                From: a@example.com
                X-Other: x
                to: second
                Subject: s
                """));
        HeaderSelection.Selected s = HeaderSelection.defaults().select(block);
        assertEquals("From:From:Subject:To:To", s.hTag());
        assertEquals("From: a@example.com\r\n", new String(s.fields().get(0).raw()));
        assertNull(s.fields().get(1), "the over-signed From has no field");
        assertEquals("to: second\r\n", new String(s.fields().get(3).raw()), "the last To first");
        assertEquals("To: first\r\n", new String(s.fields().get(4).raw()));

        HeaderSelection.Selected none = HeaderSelection.defaults().select(HeaderBlock.parse(Messages.crlf("Subject: s\n")));
        assertEquals("From:Subject", none.hTag(), "without a From, h= still says there was none");
    }
}
