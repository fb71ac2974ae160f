package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.Ports;
import io.relay.node.testing.UpstreamSink;
import io.relay.routing.NextHop;
import io.relay.routing.TlsLevel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SmtpDelivery#connectionFailure()} against real sockets: set when no session came
 * about (refused, a 421 or 554 greeting, hung up before EHLO completed), clear once EHLO
 * succeeded, whatever the replies to the transaction.
 */
class SmtpClientConnectionFailureTest {
    private static final byte[] MESSAGE = "Subject: t\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final SmtpClient.Policy PLAIN = new SmtpClient.Policy(TlsLevel.NONE, null, null, false);

    /** A one-thread server that runs {@code script} for each connection. */
    private static final class Scripted implements AutoCloseable {
        final ServerSocket server;

        Scripted(BiConsumer<InputStream, OutputStream> script) throws IOException {
            server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept()) {
                        script.accept(s.getInputStream(), s.getOutputStream());
                    } catch (IOException | RuntimeException e) {
                        // next connection
                    }
                }
            }, "scripted-smtp");
            t.setDaemon(true);
            t.start();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    private static void write(OutputStream out, String text) {
        try {
            out.write(text.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static SmtpDelivery deliver(int port) {
        try (SmtpClient c = new SmtpClient("relay.test", Duration.ofSeconds(5), Duration.ofSeconds(5),
                Duration.ofSeconds(3), new AddressRecordResolver())) {
            return c.deliver(new NextHop("127.0.0.1", port, false), PLAIN, "app@app.test", List.of("u@example.com"),
                    MESSAGE, false, false);
        }
    }

    @Test
    void refusedConnectionIsAConnectionFailure() {
        SmtpDelivery d = deliver(Ports.free());
        assertTrue(d.connectionFailure(), d.toString());
        assertTrue(d.results().get(0).detail().endsWith("Connection refused"), d.toString());
    }

    @Test
    void a421Or554GreetingIsAConnectionFailure() throws Exception {
        for (String greeting : List.of("421 4.3.2 try later\r\n", "554 5.7.1 go away\r\n")) {
            try (Scripted s = new Scripted((in, out) -> write(out, greeting))) {
                SmtpDelivery d = deliver(s.server.getLocalPort());
                assertTrue(d.connectionFailure(), greeting + ": " + d);
            }
        }
    }

    @Test
    void hangingUpBeforeEhloCompletedIsAConnectionFailure() throws Exception {
        try (Scripted s = new Scripted((in, out) -> { })) {
            assertTrue(deliver(s.server.getLocalPort()).connectionFailure(), "closed before the greeting");
        }
        try (Scripted s = new Scripted((in, out) -> {
            write(out, "220 up.test ESMTP\r\n");
            try {
                in.read(); // EHLO arrives; hang up without answering
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        })) {
            SmtpDelivery d = deliver(s.server.getLocalPort());
            assertTrue(d.connectionFailure(), d.toString());
            assertTrue(d.results().get(0).detail().contains("while performing the EHLO handshake"), d.toString());
        }
    }

    @Test
    void anEstablishedSessionIsNotAConnectionFailureWhateverTheReplies(@TempDir Path dir) throws Exception {
        try (UpstreamSink sink = UpstreamSink.start(dir)) {
            SmtpDelivery d = deliver(sink.port());
            assertFalse(d.connectionFailure(), d.toString());
            assertEquals(RecipientResult.Status.SENT, d.results().get(0).status());
        }
        // smtp-sink -f RCPT: every RCPT refused with a 5xx after a normal session start
        try (UpstreamSink sink = UpstreamSink.start(dir.resolve("r"), "-f", "RCPT")) {
            SmtpDelivery d = deliver(sink.port());
            assertFalse(d.connectionFailure(), d.toString());
            assertEquals(RecipientResult.Status.BOUNCED, d.results().get(0).status(), d.toString());
        }
    }
}
