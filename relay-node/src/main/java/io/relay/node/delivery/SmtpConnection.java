package io.relay.node.delivery;

import io.relay.routing.Credentials;
import io.relay.routing.NextHop;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * One SMTP connection of the outbound client to one address of a next hop: the socket
 * (plain, then {@link SSLSocket} after STARTTLS, TLS 1.2 and 1.3 only, SNI and, for
 * {@code secure}, the host name checked), replies read line by line (at most 4096 bytes a
 * line, 100 lines a reply), and the session's own commands: EHLO (HELO when refused) with
 * the extensions it offers, AUTH PLAIN or LOGIN, QUIT. {@link SmtpClient} decides the
 * session's policy (when to STARTTLS, whether AUTH is allowed) and caches idle ones;
 * {@link SmtpTransaction} runs the mail transaction on it. The AUTH exchange is never logged.
 */
final class SmtpConnection {
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    private static final int MAX_LINE = 4096;

    final NextHop hop;
    /** The name of the host that answers (the MX host, not the recipient's domain): a DSN's Remote-MTA. */
    final String remoteMta;
    final String hostText;
    final String relay;
    Socket socket;
    InputStream in;
    OutputStream out;
    boolean tls;
    Map<String, String> extensions = new HashMap<>();
    volatile long idleSince;
    private final int replyTimeoutMillis;

    SmtpConnection(NextHop hop, String remoteMta, String hostText, String relay, int replyTimeoutMillis) {
        this.hop = hop;
        this.remoteMta = remoteMta;
        this.hostText = hostText;
        this.relay = relay;
        this.replyTimeoutMillis = replyTimeoutMillis;
    }

    void attach(Socket s) throws IOException {
        socket = s;
        in = new BufferedInputStream(s.getInputStream());
        out = new BufferedOutputStream(s.getOutputStream());
    }

    void startTls(SSLContext ctx, String host, boolean checkName) throws IOException {
        SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(socket, host, socket.getPort(), true);
        ssl.setEnabledProtocols(PROTOCOLS);
        SSLParameters params = ssl.getSSLParameters();
        if (checkName) {
            params.setEndpointIdentificationAlgorithm("HTTPS");
        }
        if (!host.contains(":") && !Character.isDigit(host.charAt(host.length() - 1))) {
            params.setServerNames(List.of(new SNIHostName(host)));
        }
        ssl.setSSLParameters(params);
        ssl.setSoTimeout(replyTimeoutMillis);
        ssl.startHandshake();
        attach(ssl);
        tls = true;
        extensions = new HashMap<>();
    }

    SmtpReply ehlo(String name) throws IOException {
        SmtpReply r = command("EHLO " + name);
        if (!r.positive()) {
            extensions = new HashMap<>();
            return command("HELO " + name);
        }
        Map<String, String> ext = new HashMap<>();
        for (int i = 1; i < r.lines().size(); i++) {
            String line = r.lines().get(i).trim();
            int sp = line.indexOf(' ');
            String k = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
            ext.put(k, sp < 0 ? "" : line.substring(sp + 1).trim());
        }
        extensions = ext;
        return r;
    }

    /** Logs in with PLAIN (preferred) or LOGIN; null when the server offers neither. */
    SmtpReply authenticate(Credentials cred) throws IOException {
        String offered = extensions.get("AUTH");
        if (offered == null) {
            return null;
        }
        Set<String> mechs = new TreeSet<>();
        for (String m : offered.toUpperCase(Locale.ROOT).split("\\s+")) {
            mechs.add(m);
        }
        Base64.Encoder b64 = Base64.getEncoder();
        if (mechs.contains("PLAIN")) {
            String token = b64.encodeToString(("\0" + cred.username() + "\0" + cred.password())
                    .getBytes(StandardCharsets.UTF_8));
            return command("AUTH PLAIN " + token);
        }
        if (mechs.contains("LOGIN")) {
            SmtpReply r = command("AUTH LOGIN");
            if (r.code() != 334) {
                return r;
            }
            r = command(b64.encodeToString(cred.username().getBytes(StandardCharsets.UTF_8)));
            if (r.code() != 334) {
                return r;
            }
            return command(b64.encodeToString(cred.password().getBytes(StandardCharsets.UTF_8)));
        }
        return new SmtpReply(535, List.of("5.7.8 no supported mechanism (PLAIN, LOGIN) among: " + offered));
    }

    SmtpReply command(String line) throws IOException {
        write(line);
        flush();
        return read();
    }

    void write(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    void writeRaw(byte[] bytes) throws IOException {
        out.write(bytes);
    }

    void flush() throws IOException {
        out.flush();
    }

    SmtpReply read() throws IOException {
        List<String> lines = new ArrayList<>();
        int code;
        while (true) {
            String line = readLine();
            if (line.length() < 3) {
                throw new IOException("malformed reply");
            }
            try {
                code = Integer.parseInt(line.substring(0, 3));
            } catch (NumberFormatException e) {
                throw new IOException("malformed reply");
            }
            lines.add(line.length() > 4 ? line.substring(4) : "");
            if (line.length() == 3 || line.charAt(3) != '-') {
                return new SmtpReply(code, lines);
            }
            if (lines.size() > 100) {
                throw new IOException("reply too long");
            }
        }
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(128);
        while (buf.size() < MAX_LINE) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed");
            }
            if (b == '\n') {
                byte[] bytes = buf.toByteArray();
                int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, len, StandardCharsets.UTF_8);
            }
            buf.write(b);
        }
        throw new IOException("reply line too long");
    }

    void quit() {
        try {
            socket.setSoTimeout(Math.min(replyTimeoutMillis, 5000));
            command("QUIT");
        } catch (IOException | RuntimeException ignored) {
            // QUIT is a courtesy; the socket is closed below either way.
        }
        close();
    }

    void close() {
        if (socket != null) {
            closeQuietly(socket);
        }
    }

    static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing a socket that failed to connect
        }
    }
}
