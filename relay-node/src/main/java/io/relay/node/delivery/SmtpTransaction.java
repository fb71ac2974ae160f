package io.relay.node.delivery;

import io.relay.queue.MessageBody;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One mail transaction on a set-up {@link SmtpConnection}: MAIL FROM (with SIZE,
 * BODY=8BITMIME and SMTPUTF8 when offered and needed), every RCPT TO and DATA, pipelined in
 * one write when the server offers PIPELINING, then the content with RFC 5321 dot-stuffing
 * and a result per recipient. A lost connection defers the recipients not yet finally
 * answered. {@link SmtpClient} sets the session up and decides what happens to the
 * connection after ({@link #reusable}).
 */
final class SmtpTransaction {
    private final SmtpConnection c;
    private final String sender;
    private final List<String> rcpts;
    private final MessageBody content;
    private final boolean smtpUtf8;
    private final boolean eightBit;
    int roundTrips;
    boolean reusable;

    SmtpTransaction(SmtpConnection c, String sender, List<String> rcpts, MessageBody content, boolean smtpUtf8,
                boolean eightBit) {
        this.c = c;
        this.sender = sender;
        this.rcpts = rcpts;
        this.content = content;
        this.smtpUtf8 = smtpUtf8;
        this.eightBit = eightBit || has8Bit(content);
    }

    List<RecipientResult> run() {
        Map<String, RecipientResult> out = new LinkedHashMap<>();
        String stage = "MAIL FROM command";
        try {
            if (smtpUtf8 && !c.extensions.containsKey("SMTPUTF8")) {
                reusable = true;
                for (String r : rcpts) {
                    out.put(r, RecipientResult.bounced(r, "5.6.7",
                            "SMTPUTF8 is required, but was not offered by host " + c.hostText));
                }
                return List.copyOf(out.values());
            }
            StringBuilder mail = new StringBuilder("MAIL FROM:<").append(sender).append('>');
            if (c.extensions.containsKey("SIZE")) {
                mail.append(" SIZE=").append(content.length());
            }
            if (eightBit && c.extensions.containsKey("8BITMIME")) {
                mail.append(" BODY=8BITMIME");
            }
            if (smtpUtf8) {
                mail.append(" SMTPUTF8");
            }
            boolean pipelining = c.extensions.containsKey("PIPELINING");
            List<String> commands = new ArrayList<>();
            commands.add(mail.toString());
            for (String r : rcpts) {
                commands.add("RCPT TO:<" + r + ">");
            }
            commands.add("DATA");
            List<SmtpReply> replies = new ArrayList<>();
            if (pipelining) {
                for (String cmd : commands) {
                    c.write(cmd);
                }
                c.flush();
                roundTrips++;
                for (int i = 0; i < commands.size(); i++) {
                    stage = stageOf(i, commands.size());
                    replies.add(c.read());
                }
            } else {
                for (int i = 0; i < commands.size(); i++) {
                    stage = stageOf(i, commands.size());
                    replies.add(c.command(commands.get(i)));
                    roundTrips++;
                    boolean mailFailed = i == 0 && !replies.get(0).positive();
                    boolean noneAccepted = i == commands.size() - 2
                            && replies.subList(1, replies.size()).stream().noneMatch(SmtpReply::positive);
                    if (mailFailed || noneAccepted) {
                        break;
                    }
                }
            }
            SmtpReply mailReply = replies.get(0);
            List<String> accepted = new ArrayList<>();
            for (int i = 0; i < rcpts.size(); i++) {
                String r = rcpts.get(i);
                if (!mailReply.positive()) {
                    out.put(r, SmtpClient.fromReply(r, c, mailReply, "MAIL FROM command"));
                } else if (i + 1 < replies.size() && !replies.get(i + 1).positive()) {
                    out.put(r, SmtpClient.fromReply(r, c, replies.get(i + 1), "RCPT TO command"));
                } else if (i + 1 < replies.size()) {
                    accepted.add(r);
                }
            }
            SmtpReply dataReply = replies.size() == commands.size() ? replies.get(replies.size() - 1) : null;
            if (dataReply != null && dataReply.code() == 354) {
                stage = "end of DATA command";
                if (accepted.isEmpty()) {
                    // Pipelined DATA was accepted although no recipient was: send an empty message's end.
                    c.writeRaw(".\r\n".getBytes(StandardCharsets.US_ASCII));
                    c.flush();
                    c.read();
                } else {
                    if (content instanceof MessageBody.InMemory m) {
                        c.writeRaw(dotStuffed(m.bytes()));
                    } else { // on disk: streamed from the file, never whole in the heap
                        try (InputStream in = content.open()) {
                            writeDotStuffed(in, c.out);
                        }
                    }
                    c.flush();
                    SmtpReply fin = c.read();
                    for (String r : accepted) {
                        out.put(r, fin.positive()
                                ? new RecipientResult(r, RecipientResult.Status.SENT, fin.dsn(), fin.text(),
                                        c.remoteMta, fin.text())
                                : SmtpClient.fromReply(r, c, fin, "end of DATA command"));
                    }
                }
            } else if (dataReply != null && !accepted.isEmpty()) {
                for (String r : accepted) {
                    out.put(r, SmtpClient.fromReply(r, c, dataReply, "DATA command"));
                }
            }
            reusable = true;
        } catch (SocketTimeoutException e) {
            fillLost(out, "conversation with " + c.hostText + " timed out while sending " + stage);
        } catch (IOException e) {
            fillLost(out, "lost connection with " + c.hostText + " while sending " + stage);
        }
        List<RecipientResult> ordered = new ArrayList<>();
        for (String r : rcpts) {
            ordered.add(out.get(r));
        }
        return ordered;
    }

    private static String stageOf(int index, int count) {
        return index == 0 ? "MAIL FROM command" : index == count - 1 ? "DATA command" : "RCPT TO command";
    }

    private void fillLost(Map<String, RecipientResult> out, String detail) {
        reusable = false;
        c.close();
        for (String r : rcpts) {
            // After a lost connection the recipients not yet finally answered are owed again.
            RecipientResult done = out.get(r);
            if (done == null || done.status() == RecipientResult.Status.SENT) {
                out.put(r, new RecipientResult(r, RecipientResult.Status.DEFERRED, "4.4.2", detail,
                        c.remoteMta, null));
            }
        }
    }

    private static boolean has8Bit(MessageBody body) {
        if (body instanceof MessageBody.InMemory m) {
            return has8Bit(m.bytes(), m.bytes().length);
        }
        // a large message on disk is read once more for it: rare, and cheaper than a wrong BODY=
        try (InputStream in = body.open()) {
            byte[] buf = new byte[64 * 1024];
            for (int n; (n = in.read(buf)) > 0; ) {
                if (has8Bit(buf, n)) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return true; // unknown: declaring 8BITMIME is the safe side when the server offers it
        }
    }

    private static boolean has8Bit(byte[] b, int n) {
        for (int i = 0; i < n; i++) {
            if (b[i] < 0) {
                return true;
            }
        }
        return false;
    }


    /**
     * Writes {@code content} with RFC 5321 dot-stuffing and the final CRLF "." CRLF, as
     * {@link #dotStuffed} does, reading it as it goes (the line state carries across reads).
     */
    static void writeDotStuffed(InputStream content, OutputStream out) throws IOException {
        byte[] buf = new byte[64 * 1024];
        boolean lineStart = true;
        boolean empty = true;
        int last = '\n';
        for (int n; (n = content.read(buf)) > 0; ) {
            empty = false;
            int from = 0;
            for (int i = 0; i < n; i++) {
                if (lineStart && buf[i] == '.') {
                    out.write(buf, from, i - from);
                    out.write('.');
                    from = i;
                }
                lineStart = buf[i] == '\n';
            }
            out.write(buf, from, n - from);
            last = buf[n - 1];
        }
        if (!empty && last != '\n') {
            out.write('\r');
            out.write('\n');
        }
        out.write('.');
        out.write('\r');
        out.write('\n');
    }

    /** The content with RFC 5321 dot-stuffing, ending in CRLF "." CRLF. */
    static byte[] dotStuffed(byte[] content) {
        int n = content.length;
        int dots = 0;
        for (int i = 0; i < n; i++) {
            if (content[i] == '.' && (i == 0 || content[i - 1] == '\n')) {
                dots++;
            }
        }
        boolean endsLine = n == 0 || content[n - 1] == '\n';
        byte[] out = new byte[n + dots + (endsLine ? 0 : 2) + 3];
        int o = 0;
        int from = 0;
        for (int i = 0; dots > 0 && i < n; i++) {
            if (content[i] == '.' && (i == 0 || content[i - 1] == '\n')) {
                System.arraycopy(content, from, out, o, i - from);
                o += i - from;
                out[o++] = '.';
                from = i;
                dots--;
            }
        }
        System.arraycopy(content, from, out, o, n - from);
        o += n - from;
        if (!endsLine) {
            out[o++] = '\r';
            out[o++] = '\n';
        }
        out[o++] = '.';
        out[o++] = '\r';
        out[o] = '\n';
        return out;
    }
}
