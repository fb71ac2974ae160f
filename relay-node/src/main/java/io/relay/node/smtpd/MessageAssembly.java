package io.relay.node.smtpd;

import io.relay.node.log.Printable;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * Postfix's cleanup role at end of DATA: prepends our Received header, adds Message-ID and
 * Date when the client left them out, and counts Received headers for the mail-loop limit.
 *
 * <p>Strategy: one pass over the header section only (up to the first empty line), comparing
 * header names byte-wise; the body is copied once with the new headers in front, or, for a
 * large message on disk, left where it is ({@link #prefix}: the new headers go before it).
 * Settings: {@code smtpd.hostname}, {@code smtpd.hopcount-limit}.
 */
public final class MessageAssembly {
    static final DateTimeFormatter RFC5322 = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ROOT);
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss", Locale.ROOT);

    private final String hostname;
    private final int hopcountLimit;

    public MessageAssembly(String hostname, int hopcountLimit) {
        this.hostname = hostname;
        this.hopcountLimit = hopcountLimit;
    }

    /** The outcome of assembling one message. */
    public sealed interface Result {
        /** @param messageId the Message-ID as found or added, for the cleanup log line */
        record Assembled(byte[] content, String messageId) implements Result {}

        /** The headers to put before a content kept elsewhere (on disk), and the Message-ID. */
        record Prefixed(byte[] prefix, String messageId) implements Result {}

        record TooManyHops(int hops) implements Result {}
    }

    /**
     * @param heloName   the EHLO/HELO argument
     * @param clientIp   the client address as text
     * @param protocol   ESMTP, ESMTPS, SMTP ...
     * @param recipient  the only recipient, or null when there are several (no "for" clause)
     */
    public Result assemble(byte[] original, String id, String heloName, String clientIp, String protocol,
                           String recipient, Instant now) {
        Result r = prefix(original, id, heloName, clientIp, protocol, recipient, now);
        if (!(r instanceof Result.Prefixed p)) {
            return r;
        }
        byte[] head = p.prefix();
        byte[] out = new byte[head.length + original.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(original, 0, out, head.length, original.length);
        return new Result.Assembled(out, p.messageId());
    }

    /**
     * As {@link #assemble}, for a content that stays where it is: {@code head} is its start
     * (the header section, or as much of it as the caller read: Received headers beyond it
     * are not counted), and the result is the headers to put before it.
     */
    public Result prefix(byte[] head, String id, String heloName, String clientIp, String protocol,
                         String recipient, Instant now) {
        HeaderFacts facts = scan(head);
        if (facts.received > hopcountLimit) {
            return new Result.TooManyHops(facts.received);
        }
        var zoned = now.atZone(ZoneOffset.UTC);
        String date = RFC5322.format(zoned);
        StringBuilder h = new StringBuilder(256);
        h.append("Received: from ").append(Printable.mask(heloName))
                .append(" (unknown [").append(clientIp).append("])\r\n")
                .append("\tby ").append(hostname).append(" (relay) with ").append(protocol).append(" id ").append(id);
        if (recipient != null) {
            h.append("\r\n\tfor <").append(Printable.mask(recipient)).append(">; ").append(date).append("\r\n");
        } else {
            h.append(";\r\n\t").append(date).append("\r\n");
        }
        String messageId = facts.messageId;
        if (messageId == null) {
            messageId = "<" + STAMP.format(zoned) + "." + id + "@" + hostname + ">";
            h.append("Message-ID: ").append(messageId).append("\r\n");
        }
        if (!facts.date) {
            h.append("Date: ").append(date).append("\r\n");
        }
        return new Result.Prefixed(h.toString().getBytes(StandardCharsets.UTF_8), messageId);
    }

    private record HeaderFacts(int received, String messageId, boolean date) {}

    private static HeaderFacts scan(byte[] m) {
        int received = 0;
        String messageId = null;
        boolean date = false;
        int i = 0;
        while (i < m.length) {
            int eol = indexOfLf(m, i);
            int lineEnd = eol < 0 ? m.length : eol;
            int textEnd = lineEnd > i && m[lineEnd - 1] == '\r' ? lineEnd - 1 : lineEnd;
            if (textEnd == i) {
                break; // the empty line: end of headers
            }
            byte first = m[i];
            if (first != ' ' && first != '\t') {
                int colon = -1;
                for (int k = i; k < textEnd; k++) {
                    if (m[k] == ':') {
                        colon = k;
                        break;
                    }
                    if (m[k] <= ' ') {
                        break;
                    }
                }
                if (colon < 0) {
                    break; // not a header line: the body starts here (no empty line)
                }
                if (nameIs(m, i, colon, "received")) {
                    received++;
                } else if (nameIs(m, i, colon, "message-id")) {
                    String v = new String(m, colon + 1, textEnd - colon - 1, StandardCharsets.UTF_8).trim();
                    messageId = v.isEmpty() ? messageId : v;
                } else if (nameIs(m, i, colon, "date")) {
                    date = true;
                }
            }
            if (eol < 0) {
                break;
            }
            i = eol + 1;
        }
        return new HeaderFacts(received, messageId, date);
    }

    private static int indexOfLf(byte[] m, int from) {
        for (int k = from; k < m.length; k++) {
            if (m[k] == '\n') {
                return k;
            }
        }
        return -1;
    }

    private static boolean nameIs(byte[] m, int from, int to, String lowerName) {
        if (to - from != lowerName.length()) {
            return false;
        }
        for (int k = 0; k < lowerName.length(); k++) {
            int c = m[from + k];
            if (c >= 'A' && c <= 'Z') {
                c += 32;
            }
            if (c != lowerName.charAt(k)) {
                return false;
            }
        }
        return true;
    }
}
