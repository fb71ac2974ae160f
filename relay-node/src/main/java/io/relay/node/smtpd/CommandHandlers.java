package io.relay.node.smtpd;

import io.relay.node.metrics.RejectReason;
import io.relay.node.smtpd.SessionState.Phase;
import io.relay.node.smtpd.SmtpCommand.Auth;
import io.relay.node.smtpd.SmtpCommand.Data;
import io.relay.node.smtpd.SmtpCommand.Ehlo;
import io.relay.node.smtpd.SmtpCommand.Helo;
import io.relay.node.smtpd.SmtpCommand.Help;
import io.relay.node.smtpd.SmtpCommand.Mail;
import io.relay.node.smtpd.SmtpCommand.Noop;
import io.relay.node.smtpd.SmtpCommand.Quit;
import io.relay.node.smtpd.SmtpCommand.Rcpt;
import io.relay.node.smtpd.SmtpCommand.Rset;
import io.relay.node.smtpd.SmtpCommand.StartTls;
import io.relay.node.smtpd.SmtpCommand.SyntaxError;
import io.relay.node.smtpd.SmtpCommand.Unknown;
import io.relay.node.smtpd.SmtpCommand.Vrfy;
import io.relay.node.auth.SaslUser;
import io.relay.node.auth.SenderRates;
import java.util.Map;

/**
 * One small handler per SMTP command, in one immutable table keyed by command type. Each
 * handler checks the sequence against {@link SessionState}, answers through the
 * {@link SmtpSession}, and says whether the command succeeded (for the disconnect counters).
 * Reply texts follow Postfix's (RFC 5321 codes, RFC 3463 enhanced codes).
 */
final class CommandHandlers {

    /** Handles one command of type C; returns whether it succeeded. */
    @FunctionalInterface
    interface Handler<C extends SmtpCommand> {
        boolean handle(SmtpSession session, C command);
    }

    static final String NEED_EHLO = "503 5.5.1 Error: send HELO/EHLO first";
    static final String NEED_MAIL = "503 5.5.1 Error: need MAIL command";
    static final String NEED_RCPT = "503 5.5.1 Error: need RCPT command";
    static final String NESTED_MAIL = "503 5.5.1 Error: nested MAIL command";
    static final String OK = "250 2.0.0 Ok";
    static final String STORAGE = "452 4.3.1 Insufficient system storage";

    private final Map<Class<? extends SmtpCommand>, Handler<? extends SmtpCommand>> table = Map.ofEntries(
            Map.entry(Ehlo.class, (Handler<Ehlo>) CommandHandlers::ehlo),
            Map.entry(Helo.class, (Handler<Helo>) CommandHandlers::helo),
            Map.entry(Mail.class, (Handler<Mail>) CommandHandlers::mail),
            Map.entry(Rcpt.class, (Handler<Rcpt>) CommandHandlers::rcpt),
            Map.entry(Data.class, (Handler<Data>) CommandHandlers::data),
            Map.entry(Rset.class, (Handler<Rset>) CommandHandlers::rset),
            Map.entry(Noop.class, (Handler<Noop>) (s, c) -> s.reply(OK)),
            Map.entry(Quit.class, (Handler<Quit>) CommandHandlers::quit),
            Map.entry(Vrfy.class, (Handler<Vrfy>) (s, c) -> s.reply("252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery")),
            Map.entry(Help.class, (Handler<Help>) (s, c) ->
                    s.reply("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS")),
            Map.entry(StartTls.class, (Handler<StartTls>) CommandHandlers::startTls),
            Map.entry(Auth.class, (Handler<Auth>) CommandHandlers::auth),
            Map.entry(Unknown.class, (Handler<Unknown>) (s, c) -> s.reply("502 5.5.2 Error: command not recognized")),
            Map.entry(SyntaxError.class, (Handler<SyntaxError>) (s, c) -> s.reply(c.reply())));

    @SuppressWarnings("unchecked")
    boolean dispatch(SmtpSession session, SmtpCommand command) {
        Handler<SmtpCommand> h = (Handler<SmtpCommand>) table.get(command.getClass());
        return h.handle(session, command);
    }

    private static boolean ehlo(SmtpSession s, Ehlo c) {
        SessionState st = s.state();
        st.resetTransaction();
        st.phase = Phase.READY;
        st.helo = c.domain();
        st.esmtp = true;
        SmtpdSettings cfg = s.settings();
        StringBuilder r = new StringBuilder(160);
        r.append("250-").append(cfg.hostname()).append("\r\n")
                .append("250-PIPELINING\r\n")
                .append("250-SIZE ").append(cfg.messageSizeLimit()).append("\r\n");
        if (s.tlsAvailable() && !st.tls) {
            r.append("250-STARTTLS\r\n");
        }
        if (s.listener().authOffered() && st.tls) { // smtpd_tls_auth_only: never on a clear channel
            r.append("250-AUTH PLAIN LOGIN\r\n");
        }
        r.append("250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8");
        return s.reply(r.toString());
    }

    private static boolean helo(SmtpSession s, Helo c) {
        SessionState st = s.state();
        st.resetTransaction();
        st.phase = Phase.READY;
        st.helo = c.domain();
        st.esmtp = false;
        return s.reply("250 " + s.settings().hostname());
    }

    private static boolean mail(SmtpSession s, Mail c) {
        SessionState st = s.state();
        switch (st.phase) {
            case GREETED -> { return s.reply(NEED_EHLO); }
            case MAIL, RCPT, DATA -> { return s.reply(NESTED_MAIL); }
            case READY -> { }
        }
        boolean utf8 = false;
        boolean eightBit = false;
        for (Map.Entry<String, String> p : c.params().entrySet()) {
            String key = p.getKey();
            String value = p.getValue();
            switch (key) {
                case "SIZE" -> {
                    long size;
                    try {
                        size = value == null ? -1 : Long.parseLong(value);
                    } catch (NumberFormatException e) {
                        size = -1;
                    }
                    if (size < 0) {
                        s.refused(RejectReason.SYNTAX);
                        return s.reply("501 5.5.4 Bad message size syntax");
                    }
                    if (size > s.settings().messageSizeLimit()) {
                        return s.reject(RejectReason.SIZE, "MAIL", "552 5.3.4 Message size exceeds fixed limit",
                                c.from().address(), null);
                    }
                }
                case "BODY" -> {
                    if ("8BITMIME".equalsIgnoreCase(value)) {
                        eightBit = true;
                    } else if (!"7BIT".equalsIgnoreCase(value)) {
                        s.refused(RejectReason.SYNTAX);
                        return s.reply("501 5.5.4 Bad BODY parameter");
                    }
                }
                case "SMTPUTF8" -> {
                    if (value != null) {
                        s.refused(RejectReason.SYNTAX);
                        return s.reply("501 5.5.4 Bad SMTPUTF8 parameter");
                    }
                    utf8 = true;
                }
                default -> {
                    s.refused(RejectReason.SYNTAX);
                    return s.reply("555 5.5.4 Unsupported option: " + key);
                }
            }
        }
        if (s.services().stopping().get()) {
            s.replyAndClose("421 4.3.2 " + s.settings().hostname() + " Service shutting down, closing transmission channel");
            return true;
        }
        if (s.queue().full()) {
            return s.reject(RejectReason.BACKPRESSURE, "MAIL", STORAGE, c.from().address(), null);
        }
        String sender = c.from().address();
        SaslUser user = st.user;
        if (user == null && s.listener().role().authRequired() && !s.trustedClient()) {
            return s.reject(RejectReason.AUTH_REQUIRED, "MAIL", "530 5.7.0 Authentication required", sender, null);
        }
        if (user != null && !user.maySend(sender)) { // reject_sender_login_mismatch
            return s.reject(RejectReason.SENDER_DENIED, "MAIL", "553 5.7.1 <" + sender
                    + ">: Sender address rejected: not owned by user " + user.name(), sender, null);
        }
        boolean smtpUtf8 = utf8;
        boolean eightBitMime = eightBit;
        if (user != null && !user.rates().isEmpty()) { // the user's own rate, counted for the cluster: off the loop
            SenderRates rates = s.services().sasl().rates();
            s.offLoop(() -> rates.tryAcquire(user), permitted -> permitted
                    ? startTransaction(s, sender, smtpUtf8, eightBitMime)
                    : s.reject(RejectReason.SENDER_RATE, "MAIL", "450 4.7.1 <" + sender
                            + ">: Sender address rejected: user " + user.name() + " is over its send rate", sender, null),
                    "mail");
            return true;
        }
        return startTransaction(s, sender, smtpUtf8, eightBitMime);
    }

    private static boolean startTransaction(SmtpSession s, String sender, boolean utf8, boolean eightBit) {
        SessionState st = s.state();
        st.queueId = s.queue().newId().value();
        st.sender = sender;
        st.smtpUtf8 = utf8;
        st.eightBitMime = eightBit;
        st.phase = Phase.MAIL;
        return s.reply("250 2.1.0 Ok");
    }

    private static boolean rcpt(SmtpSession s, Rcpt c) {
        SessionState st = s.state();
        switch (st.phase) {
            case GREETED -> { return s.reply(NEED_EHLO); }
            case READY -> { return s.reply(NEED_MAIL); }
            case MAIL, RCPT, DATA -> { }
        }
        if (!c.params().isEmpty()) { // DSN (NOTIFY, ORCPT) is not offered
            s.refused(RejectReason.SYNTAX);
            return s.reply("555 5.5.4 Unsupported option: " + c.params().keySet().iterator().next());
        }
        String rcpt = c.to().address();
        if (st.recipients.size() >= s.settings().recipientLimit()) {
            s.refused(RejectReason.OTHER);
            return s.reply("452 4.5.3 Error: too many recipients");
        }
        if (!s.relayPermitted(rcpt)) {
            return s.reject(RejectReason.RELAY_DENIED, "RCPT", "554 5.7.1 <" + rcpt + ">: Relay access denied",
                    st.sender, rcpt);
        }
        st.recipients.add(rcpt);
        st.phase = Phase.RCPT;
        if (!st.clientLogged) {
            st.clientLogged = true;
            s.mailLog().smtpd(st.queueId + ": client=" + s.clientText() + s.saslText());
        }
        s.recipientAccepted();
        return s.reply("250 2.1.5 Ok");
    }

    private static boolean data(SmtpSession s, Data c) {
        SessionState st = s.state();
        switch (st.phase) {
            case GREETED -> { return s.reply(NEED_EHLO); }
            case READY -> { return s.reply(NEED_MAIL); }
            case MAIL -> { return s.reply(NEED_RCPT); }
            case RCPT, DATA -> { }
        }
        if (!s.startData()) { // the node's receive budget is full: try again later
            return s.reject(RejectReason.MEMORY, "DATA", STORAGE, st.sender, st.recipients.get(0));
        }
        st.phase = Phase.DATA;
        s.reply("354 End data with <CR><LF>.<CR><LF>");
        return false; // counted at end of data, by its final reply
    }

    private static boolean rset(SmtpSession s, Rset c) {
        s.state().resetTransaction();
        return s.reply(OK);
    }

    private static boolean quit(SmtpSession s, Quit c) {
        s.replyAndClose("221 2.0.0 Bye");
        return true;
    }

    /** AUTH (RFC 4954), in Postfix's order of checks; the exchange itself is the session's. */
    private static boolean auth(SmtpSession s, Auth c) {
        SessionState st = s.state();
        if (!s.listener().authOffered()) {
            return s.reply("503 5.5.1 Error: authentication not enabled");
        }
        if (st.phase == Phase.GREETED) {
            return s.reply(NEED_EHLO);
        }
        if (!st.tls) {
            return s.reply("538 5.7.11 Encryption required for requested authentication mechanism");
        }
        if (st.user != null) {
            return s.reply("503 5.5.1 Error: already authenticated");
        }
        if (st.phase != Phase.READY) {
            return s.reply("503 5.5.1 Error: MAIL transaction in progress");
        }
        if (!SaslExchange.offered(c.mechanism())) {
            return s.reply("504 5.5.4 Unsupported authentication mechanism");
        }
        s.startAuth(c);
        return true; // counted when the exchange ends
    }

    private static boolean startTls(SmtpSession s, StartTls c) {
        SessionState st = s.state();
        if (!s.tlsAvailable()) {
            return s.reply("502 5.5.1 Error: command not implemented");
        }
        if (st.tls) {
            return s.reply("554 5.5.1 Error: TLS already active");
        }
        if (st.phase == Phase.GREETED) {
            return s.reply(NEED_EHLO);
        }
        if (st.phase != Phase.READY) {
            return s.reply("503 5.5.1 Error: MAIL transaction in progress");
        }
        if (s.moreInputBuffered()) { // plaintext injected behind STARTTLS (CVE-2011-0411)
            s.replyAndClose("554 5.5.1 Error: pipelining after STARTTLS is not allowed");
            return false;
        }
        s.startTls();
        return true;
    }
}
