package io.relay.node.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;

/**
 * Free TCP ports on loopback for servers the tests start in other processes. Taken below
 * Linux's ephemeral range (32768-60999), where no outgoing connection of a running test
 * (a cluster member dialling another, a client) can grab the port between this check and
 * the server's bind; each port is handed out once per test JVM.
 */
public final class Ports {
    private static final java.util.concurrent.atomic.AtomicInteger NEXT = new java.util.concurrent.atomic.AtomicInteger(
            20000 + (int) (ProcessHandle.current().pid() % 50) * 200);

    private Ports() {
    }

    public static int free() {
        for (int tries = 0; tries < 12000; tries++) {
            int port = 20000 + Math.floorMod(NEXT.getAndIncrement() - 20000, 12000);
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                s.setReuseAddress(true);
                return port;
            } catch (IOException taken) {
                // in use: try the next one
            }
        }
        throw new UncheckedIOException(new IOException("no free port in 20000-31999"));
    }

    /** Waits until something accepts connections on 127.0.0.1:{@code port} (e.g. a node's admin API, which opens last). */
    public static void awaitOpen(int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Socket sock = new Socket()) {
                sock.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("port " + port + " not open within " + timeout);
                }
                Thread.sleep(100);
            }
        }
    }
}
