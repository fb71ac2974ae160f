package io.relay.node.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A DNS server on 127.0.0.1:{@link #port()} that answers what a test scripts, per name and
 * type: records (A, AAAA, MX) or a response code (SERVFAIL for AAAA only, which dnsmasq
 * cannot be made to give). A name it knows answers NODATA for other types; an unknown name
 * NXDOMAIN. UDP only, one question per query, answers uncompressed except the owner name.
 */
public final class ScriptedDnsServer implements AutoCloseable {
    public static final int A = 1;
    public static final int MX = 15;
    public static final int AAAA = 28;
    public static final int SERVFAIL = 2;
    public static final int REFUSED = 5;

    private record Key(String name, int type) { }

    /** Either rdata values or a response code. */
    private record Script(List<byte[]> rdata, int rcode) { }

    private final DatagramSocket socket;
    private final Map<Key, Script> scripts = new ConcurrentHashMap<>();
    private final Map<String, Boolean> names = new ConcurrentHashMap<>();
    private final Thread thread;

    private ScriptedDnsServer() throws SocketException {
        socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        thread = new Thread(this::serve, "scripted-dns");
        thread.setDaemon(true);
        thread.start();
    }

    public static ScriptedDnsServer start() throws SocketException {
        return new ScriptedDnsServer();
    }

    public ScriptedDnsServer a(String name, String ip) throws IOException {
        return records(name, A, InetAddress.getByName(ip).getAddress());
    }

    public ScriptedDnsServer mx(String domain, int preference, String exchanger) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(preference >> 8);
        b.write(preference);
        b.writeBytes(encodeName(exchanger));
        return records(domain, MX, b.toByteArray());
    }

    /** {@code name}'s {@code type} queries answer {@code rcode} with no records. */
    public ScriptedDnsServer fail(String name, int type, int rcode) {
        names.put(name.toLowerCase(Locale.ROOT), true);
        scripts.put(new Key(name.toLowerCase(Locale.ROOT), type), new Script(List.of(), rcode));
        return this;
    }

    private ScriptedDnsServer records(String name, int type, byte[] rdata) {
        names.put(name.toLowerCase(Locale.ROOT), true);
        scripts.compute(new Key(name.toLowerCase(Locale.ROOT), type), (k, old) -> {
            List<byte[]> all = new ArrayList<>(old == null ? List.of() : old.rdata());
            all.add(rdata);
            return new Script(all, 0);
        });
        return this;
    }

    public int port() {
        return socket.getLocalPort();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port());
    }

    private void serve() {
        byte[] buf = new byte[512];
        while (!socket.isClosed()) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(p);
                byte[] answer = answer(ByteBuffer.wrap(p.getData(), 0, p.getLength()));
                if (answer != null) {
                    socket.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
                }
            } catch (IOException | RuntimeException e) {
                // closed, or a malformed query: nothing to answer
            }
        }
    }

    private byte[] answer(ByteBuffer q) {
        int id = q.getShort() & 0xffff;
        q.position(12);
        StringBuilder name = new StringBuilder();
        for (int len = q.get() & 0xff; len != 0; len = q.get() & 0xff) {
            byte[] label = new byte[len];
            q.get(label);
            name.append(name.length() == 0 ? "" : ".").append(new String(label, java.nio.charset.StandardCharsets.US_ASCII));
        }
        int type = q.getShort() & 0xffff;
        q.getShort(); // class
        int questionEnd = q.position();
        String key = name.toString().toLowerCase(Locale.ROOT);
        Script s = scripts.get(new Key(key, type));
        int rcode = s != null ? s.rcode() : names.containsKey(key) ? 0 : 3;
        List<byte[]> rdata = s == null ? List.of() : s.rdata();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer head = ByteBuffer.allocate(12);
        head.putShort((short) id).putShort((short) (0x8400 | 0x0100 | 0x0080 | rcode)) // QR AA RD RA
                .putShort((short) 1).putShort((short) rdata.size()).putShort((short) 0).putShort((short) 0);
        out.writeBytes(head.array());
        out.write(q.array(), q.arrayOffset() + 12, questionEnd - 12);
        for (byte[] r : rdata) {
            ByteBuffer rr = ByteBuffer.allocate(12 + r.length);
            rr.putShort((short) 0xC00C).putShort((short) type).putShort((short) 1).putInt(60)
                    .putShort((short) r.length).put(r);
            out.writeBytes(rr.array());
        }
        return out.toByteArray();
    }

    private static byte[] encodeName(String name) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (String label : name.split("\\.")) {
            b.write(label.length());
            b.writeBytes(label.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        b.write(0);
        return b.toByteArray();
    }

    @Override
    public void close() {
        socket.close();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
