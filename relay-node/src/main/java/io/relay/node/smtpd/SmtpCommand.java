package io.relay.node.smtpd;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** One parsed SMTP command line (RFC 5321 section 4.1), or the syntax error to answer. */
public sealed interface SmtpCommand {

    /** The verb as counted in the disconnect line ({@code ehlo}, {@code mail}, ... {@code unknown}). */
    String verb();

    record Ehlo(String domain) implements SmtpCommand {
        public String verb() { return "ehlo"; }
    }

    record Helo(String domain) implements SmtpCommand {
        public String verb() { return "helo"; }
    }

    /** MAIL FROM; params have upper-case keys, a null value for a bare keyword (SMTPUTF8). */
    record Mail(ReversePath from, Map<String, String> params) implements SmtpCommand {
        public Mail { params = Collections.unmodifiableMap(new LinkedHashMap<>(params)); }
        public String verb() { return "mail"; }
    }

    record Rcpt(ForwardPath to, Map<String, String> params) implements SmtpCommand {
        public Rcpt { params = Collections.unmodifiableMap(new LinkedHashMap<>(params)); }
        public String verb() { return "rcpt"; }
    }

    record Data() implements SmtpCommand {
        public String verb() { return "data"; }
    }

    record Rset() implements SmtpCommand {
        public String verb() { return "rset"; }
    }

    record Noop() implements SmtpCommand {
        public String verb() { return "noop"; }
    }

    record Quit() implements SmtpCommand {
        public String verb() { return "quit"; }
    }

    record Vrfy(String argument) implements SmtpCommand {
        public String verb() { return "vrfy"; }
    }

    record Help() implements SmtpCommand {
        public String verb() { return "help"; }
    }

    record StartTls() implements SmtpCommand {
        public String verb() { return "starttls"; }
    }

    /**
     * AUTH (RFC 4954): the mechanism in upper case and the initial response as sent (base64,
     * {@code "="} for an empty one), or null when the client sent none. Never logged: the
     * initial response of PLAIN carries the password.
     */
    record Auth(String mechanism, String initialResponse) implements SmtpCommand {
        public String verb() { return "auth"; }

        @Override
        public String toString() {
            return "Auth[" + mechanism + (initialResponse == null ? "" : ", initial response") + "]";
        }
    }

    /** A verb we do not implement; answered 502. */
    record Unknown(String name) implements SmtpCommand {
        public String verb() { return "unknown"; }
    }

    /** A known verb with bad syntax: answer {@code reply} and count the command as failed. */
    record SyntaxError(String verb, String reply) implements SmtpCommand {}

    /** The MAIL FROM address: "" for the null sender {@code <>}. */
    record ReversePath(String address) {
        public boolean nullSender() { return address.isEmpty(); }
    }

    /** The RCPT TO address, source route stripped. */
    record ForwardPath(String address) {}
}
