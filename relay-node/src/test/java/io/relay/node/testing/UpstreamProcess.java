package io.relay.node.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/** Shared plumbing of the upstream fixtures: free ports, waiting for a listener, killing. */
public final class UpstreamProcess {
    private UpstreamProcess() {
    }

    static int freePort() {
        return Ports.free();
    }

    /** Polls until something accepts on 127.0.0.1:port, or fails after the deadline. */
    public static void awaitListening(Process process, int port, Duration deadline) throws IOException {
        awaitListening(process, "127.0.0.1", port, deadline);
    }

    /** Polls until something accepts on host:port, or fails after the deadline. */
    public static void awaitListening(Process process, String host, int port, Duration deadline) throws IOException {
        long end = System.nanoTime() + deadline.toNanos();
        while (System.nanoTime() < end) {
            if (!process.isAlive()) {
                throw new IOException("upstream exited early with status " + process.exitValue());
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 200);
                return;
            } catch (IOException notYet) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
        }
        throw new IOException("upstream did not listen on " + host + ":" + port + " within " + deadline);
    }

    public static void kill(Process process) {
        if (process == null) {
            return;
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
