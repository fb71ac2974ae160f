package io.relay.node.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP relay on 127.0.0.1 in front of a test upstream that counts connections open at
 * once (the most ever seen), so a test can see what the upstream's server sees: every
 * connection from the first byte to close, including cached idle ones.
 */
public final class ConnectionCountingProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int upstreamPort;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger most = new AtomicInteger();
    private final AtomicInteger total = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    public ConnectionCountingProxy(int upstreamPort) throws IOException {
        this.upstreamPort = upstreamPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "counting-proxy");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** The most connections that were open at the same time. */
    public int mostAtOnce() {
        return most.get();
    }

    public int total() {
        return total.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket up = new Socket();
                up.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), upstreamPort), 5000);
                sockets.add(client);
                sockets.add(up);
                total.incrementAndGet();
                most.accumulateAndGet(open.incrementAndGet(), Math::max);
                AtomicInteger ends = new AtomicInteger();
                Runnable closeBoth = () -> {
                    if (ends.getAndIncrement() == 0) {
                        open.decrementAndGet();
                        quietly(client);
                        quietly(up);
                    }
                };
                pump(client, up, closeBoth);
                pump(up, client, closeBoth);
            } catch (IOException e) {
                // closed, or the upstream refused: the client sees its connection dropped
            }
        }
    }

    private static void pump(Socket from, Socket to, Runnable closeBoth) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // either side closed
            } finally {
                closeBoth.run();
            }
        }, "counting-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void quietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        sockets.forEach(ConnectionCountingProxy::quietly);
    }
}
