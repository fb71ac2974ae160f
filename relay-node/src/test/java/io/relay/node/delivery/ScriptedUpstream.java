package io.relay.node.delivery;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * An SMTP server on loopback that plays a fixed script for one connection and records every
 * byte the client writes (after STARTTLS: the plaintext inside TLS), so a test can compare
 * the client's wire output byte for byte. Each step reads a number of command lines (or the
 * DATA content up to its final ".") before it answers: a step that reads MAIL, the RCPTs
 * and DATA before answering any is only reached by a client that pipelines.
 */
final class ScriptedUpstream implements AutoCloseable {
    private final ServerSocket listener;
    private final List<Step> steps = new ArrayList<>();
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private final List<Boolean> moreWaiting = new ArrayList<>();
    private SSLContext tls;
    private CompletableFuture<Void> session;

    /** @param replies one per reply, each with its lines joined by \n */
    private record Step(int lines, boolean data, List<String> replies, boolean startTls) {
    }

    ScriptedUpstream() throws IOException {
        listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    }

    int port() {
        return listener.getLocalPort();
    }

    /** The server's identity for STARTTLS. */
    ScriptedUpstream tls(SSLContext serverContext) {
        this.tls = serverContext;
        return this;
    }

    /**
     * After reading {@code lines} command lines, answers with {@code replies}, one per command
     * (more than one: the answers to pipelined commands), each written as its lines joined by
     * \n, e.g. "250 mx.test\n250 PIPELINING" for "250-mx.test" CRLF "250 PIPELINING" CRLF.
     */
    ScriptedUpstream after(int lines, String... replies) {
        steps.add(new Step(lines, false, List.of(replies), false));
        return this;
    }

    /** Reads the DATA content through its final "." line, then answers. */
    ScriptedUpstream afterData(String reply) {
        steps.add(new Step(0, true, List.of(reply), false));
        return this;
    }

    /** Reads the STARTTLS line, answers 220 and goes on inside TLS. */
    ScriptedUpstream startTls() {
        steps.add(new Step(1, false, List.of("220 2.0.0 Ready to start TLS"), true));
        return this;
    }

    /** Greets with {@code greeting} and plays the script on the first connection, in the background. */
    ScriptedUpstream start(String greeting) {
        session = CompletableFuture.runAsync(() -> {
            try (Socket s = listener.accept()) {
                s.setSoTimeout(10_000);
                Socket current = s;
                InputStream in = current.getInputStream();
                OutputStream out = current.getOutputStream();
                answer(out, greeting);
                for (Step step : steps) {
                    if (step.data) {
                        readData(in);
                    } else {
                        for (int i = 0; i < step.lines; i++) {
                            readLine(in);
                        }
                    }
                    moreWaiting.add(in.available() > 0);
                    for (String reply : step.replies) {
                        answer(out, reply);
                    }
                    if (step.startTls) {
                        SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(current, null, true);
                        ssl.startHandshake();
                        current = ssl;
                        in = ssl.getInputStream();
                        out = ssl.getOutputStream();
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException("scripted upstream: " + e.getMessage()
                        + "; received so far:\n" + received(), e);
            }
        });
        return this;
    }

    /** Waits for the script's end; what the client wrote, as text (ASCII, CRLFs kept). */
    String transcript() throws Exception {
        session.get(30, TimeUnit.SECONDS);
        return received();
    }

    /** Why the script stopped early, or "" while it runs or after it ended well: for a failure's message. */
    String failure() {
        if (!session.isCompletedExceptionally()) {
            return "";
        }
        try {
            session.join();
            return "";
        } catch (RuntimeException e) {
            return String.valueOf(e.getCause() == null ? e : e.getCause());
        }
    }

    /** Per step: whether more of the client's bytes were already waiting when the server answered. */
    List<Boolean> moreWaitingAtEachReply() {
        return List.copyOf(moreWaiting);
    }

    private synchronized String received() {
        return received.toString(StandardCharsets.ISO_8859_1);
    }

    private static void answer(OutputStream out, String reply) throws IOException {
        String[] lines = reply.split("\n");
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            b.append(line, 0, 3).append(i + 1 < lines.length ? '-' : ' ').append(line.substring(4)).append("\r\n");
        }
        out.write(b.toString().getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b; (b = in.read()) >= 0; ) {
            synchronized (this) {
                received.write(b);
            }
            line.write(b);
            if (b == '\n') {
                return line.toString(StandardCharsets.ISO_8859_1);
            }
        }
        throw new IOException("client closed the connection");
    }

    private void readData(InputStream in) throws IOException {
        while (!readLine(in).equals(".\r\n")) {
            // the content, recorded as it came
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }
}
