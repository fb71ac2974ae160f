package io.relay.node.smtpd;

import java.util.ArrayList;
import java.util.List;

/**
 * The explicit state of one SMTP session: where the dialogue is, what EHLO/TLS established,
 * and the envelope of the transaction in progress. {@link #resetTransaction()} is the one
 * place a transaction is forgotten (RSET, EHLO, end of DATA, STARTTLS).
 */
final class SessionState {

    enum Phase {
        /** Connected, no HELO/EHLO yet (also after STARTTLS, RFC 3207 4.2). */
        GREETED,
        /** HELO/EHLO done, no transaction. */
        READY,
        /** MAIL accepted, no recipient yet. */
        MAIL,
        /** At least one RCPT accepted. */
        RCPT,
        /** Receiving message content. */
        DATA
    }

    Phase phase = Phase.GREETED;
    String helo;
    boolean esmtp;
    boolean tls;
    /** The user of a successful AUTH (for the rest of the connection), or null. */
    io.relay.node.auth.SaslUser user;
    /** The mechanism that user authenticated with (PLAIN, LOGIN). */
    String saslMethod;

    // the transaction
    String queueId;
    String sender;
    boolean smtpUtf8;
    boolean eightBitMime;
    final List<String> recipients = new ArrayList<>();
    /** The client= line was written for this transaction; reject lines then carry the id. */
    boolean clientLogged;

    void resetTransaction() {
        if (phase != Phase.GREETED) {
            phase = Phase.READY;
        }
        queueId = null;
        sender = null;
        smtpUtf8 = false;
        eightBitMime = false;
        recipients.clear();
        clientLogged = false;
    }

    /** Forget EHLO and the transaction: after STARTTLS the client starts over. */
    void resetAll() {
        resetTransaction();
        phase = Phase.GREETED;
        helo = null;
        esmtp = false;
        user = null; // RFC 3207 4.2: nothing learnt before TLS survives it
        saslMethod = null;
    }

    /** The protocol of the Received header and the envelope: RFC 3848's names (ESMTPSA: TLS and AUTH). */
    String protocol() {
        if (!esmtp) {
            return tls ? "SMTPS" : "SMTP";
        }
        return (tls ? "ESMTPS" : "ESMTP") + (user != null ? "A" : "");
    }
}
