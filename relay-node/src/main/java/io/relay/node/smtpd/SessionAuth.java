package io.relay.node.smtpd;

import io.relay.node.auth.SaslUser;
import java.net.InetAddress;

/**
 * The AUTH exchange of one session (RFC 4954): feeds the client's continuation lines to the
 * {@link SaslExchange}, has the credentials checked off the event loop (lockout first, then
 * the password; a failure is counted for the client address), and answers in Postfix's words.
 * The preconditions (TLS, EHLO, no transaction, an offered mechanism) are the AUTH handler's
 * in {@link CommandHandlers}; reading, pausing and the disconnect counts are the session's.
 *
 * <p>Logged: a failure as {@code warning: unknown[ADDR]: SASL LOGIN authentication failed:
 * authentication failure}; a success only later, on the {@code client=} line. Never the
 * password, the base64 that carried it, or the name a failed login gave.
 */
final class SessionAuth {
    static final String SUCCESS = "235 2.7.0 Authentication successful";
    static final String FAILED = "535 5.7.8 Error: authentication failed: authentication failure";
    static final String LOCKED = "454 4.7.0 Temporary authentication failure: too many failures";

    private final SmtpSession session;
    /** The exchange waiting for the client's next line, or null. */
    private SaslExchange exchange;

    SessionAuth(SmtpSession session) {
        this.session = session;
    }

    /** Whether the client's next line answers our {@code 334} (and is no command). */
    boolean waiting() {
        return exchange != null;
    }

    void start(SmtpCommand.Auth c) {
        SaslExchange x = SaslExchange.of(c.mechanism());
        exchange = x;
        step(x, x.begin(c.initialResponse()));
    }

    /** The client's line (or a framing error) while an exchange waits. */
    void response(SmtpInput input) {
        SaslExchange x = exchange;
        if (input instanceof SmtpInput.CommandLine l) {
            step(x, x.next(l.text()));
        } else if (input instanceof SmtpInput.LineTooLong) {
            exchange = null;
            ended(x, "500 5.5.2 Error: line too long", "malformed");
        } else if (input instanceof SmtpInput.MalformedLine) {
            exchange = null;
            ended(x, SaslExchange.CANNOT_DECODE_RESPONSE, "malformed");
        } else { // a bare CR: the session ends as it would after a command
            exchange = null;
            session.count("auth", false);
            session.readAgain(input);
        }
    }

    private void step(SaslExchange x, SaslExchange.Step step) {
        if (step instanceof SaslExchange.Step.Challenge ch) {
            session.reply(ch.reply());
        } else if (step instanceof SaslExchange.Step.Ended e) {
            exchange = null;
            ended(x, e.reply(), e.malformed() ? "malformed" : "aborted");
        } else if (step instanceof SaslExchange.Step.Credentials cr) {
            exchange = null;
            verify(cr);
        }
    }

    private void ended(SaslExchange x, String reply, String result) {
        session.services().metrics().authAttempt(x.mechanism(), result);
        session.count("auth", session.reply(reply));
    }

    private record Verdict(SaslUser user, boolean locked) {}

    /** Checks the lockout and the password on the blocking executor; the session reads nothing else meanwhile. */
    private void verify(SaslExchange.Step.Credentials cr) {
        InetAddress client = session.clientAddress();
        SaslServices sasl = session.services().sasl();
        // mynetworks is neither counted nor locked out: a broken app there must not lock the VPC out
        boolean counted = client != null && !session.trustedClient();
        session.offLoop(() -> {
            if (counted && sasl.failures().locked(client)) {
                return new Verdict(null, true); // not verified: a locked client learns nothing more
            }
            SaslUser user = sasl.users().authenticate(cr.name(), cr.password()).orElse(null);
            if (user == null && counted) {
                sasl.failures().failed(client);
            }
            return new Verdict(user, false);
        }, v -> answer(cr.mechanism(), v), "auth");
    }

    private boolean answer(String mechanism, Verdict v) {
        var metrics = session.services().metrics();
        if (v.locked()) {
            metrics.authAttempt(mechanism, "locked");
            metrics.authLockout(session.listenerLabel(), "auth");
            session.mailLog().warning("smtpd", session.clientText() + ": SASL " + mechanism
                    + " authentication refused: too many failures");
            return session.reply(LOCKED);
        }
        if (v.user() == null) {
            metrics.authAttempt(mechanism, "failure");
            session.mailLog().warning("smtpd", session.clientText() + ": SASL " + mechanism
                    + " authentication failed: authentication failure");
            return session.reply(FAILED);
        }
        metrics.authAttempt(mechanism, "success");
        SessionState st = session.state();
        st.user = v.user();
        st.saslMethod = mechanism;
        return session.reply(SUCCESS);
    }
}
