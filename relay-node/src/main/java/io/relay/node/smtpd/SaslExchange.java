package io.relay.node.smtpd;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.Base64;

/**
 * The client's side of one AUTH exchange (RFC 4954) for the mechanisms the server offers,
 * PLAIN (RFC 4616) and LOGIN, as a pure state machine: it turns the AUTH command's initial
 * response and each continuation line into the next {@link Step}. No Netty, no I/O, no
 * logging: the session writes the replies and verifies the credentials elsewhere.
 *
 * <p>PLAIN: {@code AUTH PLAIN base64(authzid NUL authcid NUL password)}, or {@code AUTH PLAIN}
 * answered {@code 334 } (empty challenge) and the same blob on the next line. An authzid
 * other than the authcid (acting for someone else) is refused as a failed login. LOGIN:
 * {@code 334 VXNlcm5hbWU6} ("Username:") and {@code 334 UGFzc3dvcmQ6} ("Password:"), the name
 * optionally given as the initial response. A line {@code *} cancels (501 5.7.0); a line
 * that is not base64 ends the exchange with 501 5.5.2.
 *
 * <p>The password is held only in the {@link Step.Credentials} handed to the verifier; no
 * reply, exception or {@code toString} here carries it or the blob it came in.
 */
final class SaslExchange {
    static final String PLAIN = "PLAIN";
    static final String LOGIN = "LOGIN";
    static final String ABORTED = "501 5.7.0 Authentication aborted";
    static final String CANNOT_DECODE_RESPONSE = "501 5.5.2 Cannot decode response";
    static final String CANNOT_DECODE_PARAMETER = "501 5.5.2 Cannot decode AUTH parameter";
    static final String USERNAME_PROMPT = "334 VXNlcm5hbWU6";
    static final String PASSWORD_PROMPT = "334 UGFzc3dvcmQ6";

    /** What the session does next. */
    sealed interface Step {
        /** Write this {@code 334} line and hand the client's next line to {@link #next}. */
        record Challenge(String reply) implements Step {}

        /** Verify these (off the event loop); the exchange is over. */
        record Credentials(String mechanism, String name, String password) implements Step {
            @Override
            public String toString() {
                return "Credentials[" + mechanism + "]"; // neither the name (attacker text) nor the password
            }
        }

        /** The exchange is over without credentials: write {@code reply}. */
        record Ended(String reply, boolean malformed) implements Step {}
    }

    private enum Waiting { PLAIN_RESPONSE, LOGIN_NAME, LOGIN_PASSWORD, DONE }

    private final String mechanism;
    private Waiting waiting;
    private String loginName;

    private SaslExchange(String mechanism) {
        this.mechanism = mechanism;
    }

    /** Whether the server offers {@code mechanism} (upper case). */
    static boolean offered(String mechanism) {
        return PLAIN.equals(mechanism) || LOGIN.equals(mechanism);
    }

    /** The mechanism of this exchange, for the log and the metrics (never attacker text: one of {@link #offered}). */
    String mechanism() {
        return mechanism;
    }

    /** A new exchange for an offered mechanism ({@link #offered}); {@link #begin} starts it. */
    static SaslExchange of(String mechanism) {
        if (!offered(mechanism)) {
            throw new IllegalArgumentException("mechanism not offered");
        }
        return new SaslExchange(mechanism);
    }

    /**
     * The first step, from the AUTH command's initial response.
     *
     * @param initialResponse the AUTH command's second argument, or null
     */
    Step begin(String initialResponse) {
        if (PLAIN.equals(mechanism)) {
            if (initialResponse == null) {
                waiting = Waiting.PLAIN_RESPONSE;
                return new Step.Challenge("334 ");
            }
            byte[] blob = decode(initialResponse);
            return blob == null ? end(CANNOT_DECODE_PARAMETER, true) : plain(blob);
        }
        if (initialResponse == null) {
            waiting = Waiting.LOGIN_NAME;
            return new Step.Challenge(USERNAME_PROMPT);
        }
        byte[] name = decode(initialResponse);
        if (name == null) {
            return end(CANNOT_DECODE_PARAMETER, true);
        }
        return loginName(name);
    }

    /** The client's next line (a response to our last challenge). */
    Step next(String line) {
        if (waiting == null || waiting == Waiting.DONE) {
            throw new IllegalStateException("no challenge outstanding");
        }
        if (line.equals("*")) {
            return end(ABORTED, false);
        }
        byte[] bytes = decode(line);
        if (bytes == null) {
            return end(CANNOT_DECODE_RESPONSE, true);
        }
        return switch (waiting) {
            case PLAIN_RESPONSE -> plain(bytes);
            case LOGIN_NAME -> loginName(bytes);
            case LOGIN_PASSWORD -> {
                String password = utf8(bytes);
                waiting = Waiting.DONE;
                yield password == null ? end(CANNOT_DECODE_RESPONSE, true)
                        : new Step.Credentials(mechanism, loginName, password);
            }
            case DONE -> throw new IllegalStateException("no challenge outstanding");
        };
    }

    /** Whether the exchange waits for a continuation line from the client. */
    boolean waiting() {
        return waiting != null && waiting != Waiting.DONE;
    }

    private Step loginName(byte[] bytes) {
        String name = utf8(bytes);
        if (name == null) {
            return end(CANNOT_DECODE_RESPONSE, true);
        }
        loginName = name;
        waiting = Waiting.LOGIN_PASSWORD;
        return new Step.Challenge(PASSWORD_PROMPT);
    }

    private Step plain(byte[] blob) {
        waiting = Waiting.DONE;
        int first = indexOf(blob, 0);
        int second = first < 0 ? -1 : indexOf(blob, first + 1);
        if (second < 0 || indexOf(blob, second + 1) >= 0) {
            return new Step.Credentials(mechanism, "", ""); // malformed: a failed login, as a bad password
        }
        String authzid = utf8(java.util.Arrays.copyOfRange(blob, 0, first));
        String authcid = utf8(java.util.Arrays.copyOfRange(blob, first + 1, second));
        String password = utf8(java.util.Arrays.copyOfRange(blob, second + 1, blob.length));
        java.util.Arrays.fill(blob, (byte) 0);
        if (authzid == null || authcid == null || password == null
                || (!authzid.isEmpty() && !authzid.equals(authcid))) {
            return new Step.Credentials(mechanism, "", "");
        }
        return new Step.Credentials(mechanism, authcid, password);
    }

    private Step end(String reply, boolean malformed) {
        waiting = Waiting.DONE;
        return new Step.Ended(reply, malformed);
    }

    private static int indexOf(byte[] b, int from) {
        for (int i = from; i < b.length; i++) {
            if (b[i] == 0) {
                return i;
            }
        }
        return -1;
    }

    /** The bytes of a base64 line ({@code =} alone is the empty response); null when it is not base64. */
    static byte[] decode(String line) {
        if (line.equals("=")) {
            return new byte[0];
        }
        if (line.isEmpty() || line.length() % 4 != 0) {
            return line.isEmpty() ? new byte[0] : null;
        }
        try {
            return Base64.getDecoder().decode(line);
        } catch (IllegalArgumentException e) {
            return null; // its message would quote the blob
        }
    }

    private static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
