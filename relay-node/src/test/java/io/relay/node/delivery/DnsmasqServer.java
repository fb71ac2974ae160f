package io.relay.node.delivery;

import io.relay.node.testing.Tools;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** dnsmasq as an authoritative-enough DNS server on 127.0.0.1:{@link #port()}, for MX tests. */
public final class DnsmasqServer implements AutoCloseable {
    private final Process process;
    private final int port;

    private DnsmasqServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** @param records dnsmasq options such as {@code --mx-host=...}, {@code --host-record=...} */
    public static DnsmasqServer start(Path workDir, String... records) throws IOException, InterruptedException {
        Tools.require(Tools.DNSMASQ);
        IOException last = null;
        for (int tries = 0; tries < 5; tries++) {
            int port = 20000 + ThreadLocalRandom.current().nextInt(30000);
            List<String> cmd = new ArrayList<>(List.of(Tools.DNSMASQ, "--no-daemon", "--port=" + port,
                    "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
                    "--conf-file=/dev/null"));
            cmd.addAll(List.of(records));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(workDir.resolve("dnsmasq-" + port + ".out").toFile()).start();
            if (answers(p, port)) {
                return new DnsmasqServer(p, port);
            }
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            last = new IOException("dnsmasq did not answer on port " + port);
        }
        throw last;
    }

    /** Polls with a DNS query (A of "probe.") until dnsmasq answers, for at most 10 seconds. */
    private static boolean answers(Process p, int port) throws IOException, InterruptedException {
        byte[] query = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'p', 'r', 'o', 'b', 'e', 0, 0, 1, 0, 1};
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSoTimeout(200);
            while (System.nanoTime() < end && p.isAlive()) {
                s.send(new DatagramPacket(query, query.length, InetAddress.getLoopbackAddress(), port));
                try {
                    s.receive(new DatagramPacket(new byte[512], 512));
                    return true;
                } catch (SocketTimeoutException notYet) {
                    // poll again
                }
            }
        }
        return false;
    }

    public int port() {
        return port;
    }

    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
