package io.relay.node.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * The next line an SMTP server sends on a raw socket (a greeting, a refusal), for tests that
 * hold many connections open and look only at what each was told first.
 */
public final class ServerLine {
    private ServerLine() {
    }

    /** The next line without its CR LF; {@code closed: ...} (what came before) when the server closed first. */
    public static String next(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) {
                return "closed: " + b.toString(StandardCharsets.US_ASCII);
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.US_ASCII);
    }
}
