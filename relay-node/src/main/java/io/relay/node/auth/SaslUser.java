package io.relay.node.auth;

import java.util.List;
import java.util.Locale;

/**
 * A SASL user as a session sees it after AUTH: the name, the envelope senders it may use
 * and its optional send rates. Holds no password or hash.
 *
 * @param name    the login name, as given to {@code relayctl users add}
 * @param senders addresses ({@code app@example.com}) or domains ({@code @example.com}) this
 *                user may give in MAIL FROM, like Postfix's smtpd_sender_login_maps with
 *                reject_sender_login_mismatch; empty: any sender
 * @param rates   e.g. {@code ["100/m", "10000/d"]}, counted for the whole cluster; empty: no limit
 */
public record SaslUser(String name, List<String> senders, List<String> rates) {
    public SaslUser {
        senders = senders == null ? List.of() : List.copyOf(senders);
        rates = rates == null ? List.of() : List.copyOf(rates);
    }

    /**
     * Whether this user may send as {@code sender} (the MAIL FROM address without brackets,
     * empty for the null sender). The domain compares without case; the local part exactly,
     * as RFC 5321 leaves it to the owner. A user bound to senders may not use the null
     * sender: a bounce is the relay's to send, not an app's.
     */
    public boolean maySend(String sender) {
        if (senders.isEmpty()) {
            return true;
        }
        int at = sender.lastIndexOf('@');
        if (at <= 0) {
            return false;
        }
        String local = sender.substring(0, at);
        String domain = sender.substring(at + 1).toLowerCase(Locale.ROOT);
        for (String s : senders) {
            if (s.startsWith("@")) {
                if (s.substring(1).toLowerCase(Locale.ROOT).equals(domain)) {
                    return true;
                }
            } else {
                int sat = s.lastIndexOf('@');
                if (sat > 0 && s.substring(0, sat).equals(local)
                        && s.substring(sat + 1).toLowerCase(Locale.ROOT).equals(domain)) {
                    return true;
                }
            }
        }
        return false;
    }
}
