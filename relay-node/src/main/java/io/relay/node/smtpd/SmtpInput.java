package io.relay.node.smtpd;

/** What {@link SmtpFramer} hands to the session: command lines, message content, or a framing error. */
public sealed interface SmtpInput {

    /**
     * A command line without its CRLF.
     *
     * @param moreBuffered whether further bytes were already received behind this line
     *                     (STARTTLS must refuse that: CVE-2011-0411 class)
     */
    record CommandLine(String text, boolean moreBuffered) implements SmtpInput {}

    /** A command line that is not valid UTF-8. */
    record MalformedLine() implements SmtpInput {}

    /** A command line longer than the limit; its bytes up to the next LF were discarded. */
    record LineTooLong() implements SmtpInput {}

    /** A bare CR, or a bare LF where they are refused: the connection must be refused (SMTP smuggling defence). */
    record BareNewline(String which) implements SmtpInput {}

    /**
     * The DATA content up to (not including) the final {@code .CRLF}, dot-unstuffed.
     *
     * @param content the bytes, or null when the message ran over the size limit
     * @param size    bytes received (unstuffed), also counted past the limit
     */
    record MessageContent(byte[] content, long size) implements SmtpInput {
        public boolean oversized() { return content == null; }
    }

    /**
     * The DATA content of a large message, streamed to a file as it arrived (dot-unstuffed,
     * lines ending in CRLF); the file is the session's to accept or remove.
     *
     * @param length bytes in the file
     * @param size   bytes received (unstuffed)
     */
    record MessageFile(java.nio.file.Path file, long length, long size) implements SmtpInput {}

    /**
     * The message was read to its final dot, but the node's receive budget ({@link ReceiveMemory})
     * had no room for it: its bytes were dropped, the client gets 452 4.3.1.
     *
     * @param size bytes received (unstuffed)
     */
    record NoReceiveMemory(long size) implements SmtpInput {}
}
