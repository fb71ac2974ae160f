package io.relay.node.delivery;

import io.relay.node.log.Printable;
import io.relay.queue.QueuedMessage;
import jakarta.activation.DataHandler;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.InternetHeaders;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UnsupportedEncodingException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Enumeration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Builds the non-delivery notification (RFC 3464 multipart/report, report-type
 * delivery-status) that returns a message to its sender, shaped like Postfix's bounce(8):
 * a human-readable part, a message/delivery-status part with one block per failed
 * recipient, and the original headers as text/rfc822-headers.
 *
 * <p>Addresses and diagnostics written into header fields (To, the delivery-status fields) go
 * through {@link Printable#mask}: an SMTPUTF8 address may carry line separators or bidi controls.
 *
 * <p>Settings: the reporting host name (myhostname), used in From, Reporting-MTA and the
 * Message-ID, as Postfix does (Jakarta Mail would otherwise name the JVM's local host,
 * often {@code localhost}).
 */
public final class DsnBuilder {
    private static final DateTimeFormatter RFC5322 = DateTimeFormatter.RFC_1123_DATE_TIME;
    private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMddHHmmss").withZone(ZoneOffset.UTC);

    /** One recipient the notification reports. */
    public record Failure(String recipient, String status, String remoteMta, String diagnostic, String reason) {
    }

    private final String hostname;
    private final Session session = Session.getInstance(new Properties());

    public DsnBuilder(String hostname) {
        this.hostname = hostname;
    }

    /** The notification's bytes (CRLF lines), addressed to the original envelope sender. */
    public byte[] build(QueuedMessage original, List<Failure> failures, Instant now) {
        try {
            String messageId = "<" + ID_TIME.format(now) + "." + original.id().value() + "."
                    + Integer.toHexString(ThreadLocalRandom.current().nextInt()) + "@" + hostname + ">";
            MimeMessage msg = new MimeMessage(session) {
                @Override
                protected void updateMessageID() throws MessagingException {
                    setHeader("Message-ID", messageId);
                }
            };
            msg.setFrom(new InternetAddress("MAILER-DAEMON@" + hostname, "Mail Delivery System"));
            msg.setRecipients(jakarta.mail.Message.RecipientType.TO, Printable.mask(original.envelope().sender()));
            msg.setSubject("Undelivered Mail Returned to Sender");
            msg.setSentDate(java.util.Date.from(now));
            msg.setHeader("Auto-Submitted", "auto-replied");

            MimeMultipart report = new MimeMultipart("report; report-type=delivery-status");
            MimeBodyPart human = new MimeBodyPart();
            human.setText(humanText(original, failures), "UTF-8");
            human.setDescription("Notification");
            report.addBodyPart(human);

            MimeBodyPart status = new MimeBodyPart();
            status.setDataHandler(new DataHandler(new ByteArrayDataSource(
                    deliveryStatus(original, failures).getBytes(StandardCharsets.UTF_8), "message/delivery-status")));
            status.setDescription("Delivery report");
            report.addBodyPart(status);

            MimeBodyPart headers = new MimeBodyPart();
            headers.setDataHandler(new DataHandler(new ByteArrayDataSource(
                    originalHeaders(original.body().head(HEADER_BYTES)), "text/rfc822-headers")));
            headers.setDescription("Undelivered Message Headers");
            report.addBodyPart(headers);

            msg.setContent(report);
            msg.saveChanges();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            msg.writeTo(out);
            return out.toByteArray();
        } catch (MessagingException | IOException e) {
            throw new IllegalStateException("cannot build the delivery status notification", e);
        }
    }

    private String humanText(QueuedMessage original, List<Failure> failures) {
        StringBuilder b = new StringBuilder();
        b.append("This is the mail system at host ").append(hostname).append(".\r\n\r\n");
        b.append("I'm sorry to have to inform you that your message could not\r\n");
        b.append("be delivered to one or more recipients. It's attached below.\r\n\r\n");
        b.append("                   The mail system\r\n\r\n");
        for (Failure f : failures) {
            b.append('<').append(f.recipient()).append(">: ").append(f.reason()).append("\r\n");
        }
        return b.toString();
    }

    private String deliveryStatus(QueuedMessage original, List<Failure> failures) {
        StringBuilder b = new StringBuilder();
        b.append("Reporting-MTA: dns; ").append(hostname).append("\r\n");
        b.append("X-Relay-Queue-ID: ").append(original.id().value()).append("\r\n");
        b.append("X-Relay-Sender: rfc822; ").append(Printable.mask(original.envelope().sender())).append("\r\n");
        b.append("Arrival-Date: ").append(RFC5322.format(ZonedDateTime.ofInstant(
                Instant.ofEpochMilli(original.envelope().arrivalMillis()), ZoneId.systemDefault()))).append("\r\n");
        for (Failure f : failures) {
            b.append("\r\n");
            b.append("Final-Recipient: rfc822; ").append(Printable.mask(f.recipient())).append("\r\n");
            b.append("Original-Recipient: rfc822; ").append(Printable.mask(f.recipient())).append("\r\n");
            b.append("Action: failed\r\n");
            b.append("Status: ").append(f.status()).append("\r\n");
            if (f.remoteMta() != null) {
                b.append("Remote-MTA: dns; ").append(f.remoteMta()).append("\r\n");
            }
            if (f.diagnostic() != null) {
                b.append("Diagnostic-Code: smtp; ").append(Printable.mask(f.diagnostic())).append("\r\n");
            } else {
                b.append("Diagnostic-Code: X-Relay; ").append(Printable.mask(f.reason())).append("\r\n");
            }
        }
        return b.toString();
    }

    /** Of a large message on disk only its start is read: the header section, or this much of it. */
    private static final int HEADER_BYTES = 256 * 1024;

    private static byte[] originalHeaders(byte[] content) throws MessagingException, UnsupportedEncodingException {
        InternetHeaders h = new InternetHeaders(new ByteArrayInputStream(content));
        StringBuilder b = new StringBuilder();
        for (Enumeration<String> e = h.getAllHeaderLines(); e.hasMoreElements(); ) {
            b.append(e.nextElement()).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }
}
