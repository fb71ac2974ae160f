package io.relay.node.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

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
}
