package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A scripted SMTP client for dialogue tests: send a line, expect a reply code. */
final class SmtpClient implements AutoCloseable {
    Socket socket;
    private BufferedReader in;
    private OutputStream out;

    SmtpClient(InetSocketAddress server) throws IOException {
        this(server, null);
    }

    SmtpClient(InetSocketAddress server, InetAddress localAddress) throws IOException {
        socket = new Socket();
        if (localAddress != null) {
            socket.bind(new InetSocketAddress(localAddress, 0));
        }
        socket.connect(server, 5000);
        socket.setSoTimeout(10_000);
        in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        out = socket.getOutputStream();
    }

    /**
     * Switches to TLS on the open connection (after {@code 220 Ready to start TLS}, or at once
     * for implicit TLS), trusting any certificate: the server's is the self-signed pair.
     */
    void startTls() throws IOException {
        try {
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
                public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) { }
                public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) { }
                public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                    return new java.security.cert.X509Certificate[0];
                }
            }}, null);
            javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket(socket,
                    socket.getInetAddress().getHostAddress(), socket.getPort(), true);
            tls.setUseClientMode(true);
            tls.startHandshake();
            socket = tls;
            in = new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.UTF_8));
            out = tls.getOutputStream();
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    void send(String line) throws IOException {
        raw(line + "\r\n");
    }

    void raw(String bytes) throws IOException {
        out.write(bytes.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Reads one (possibly multi-line) reply and returns it whole. */
    String reply() throws IOException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            String l = in.readLine();
            if (l == null) {
                return sb.length() == 0 ? null : sb.toString();
            }
            sb.append(l).append('\n');
            if (l.length() < 4 || l.charAt(3) != '-') {
                return sb.toString().trim();
            }
        }
    }

    /** Reads one reply and asserts it starts with {@code prefix}; returns it. */
    String expect(String prefix) throws IOException {
        String r = reply();
        assertTrue(r != null && r.startsWith(prefix), "expected '" + prefix + "' but got '" + r + "'");
        return r;
    }

    /** Whether the server closed the connection (EOF within the read timeout). */
    boolean closedByServer() throws IOException {
        try {
            return in.readLine() == null;
        } catch (java.net.SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
