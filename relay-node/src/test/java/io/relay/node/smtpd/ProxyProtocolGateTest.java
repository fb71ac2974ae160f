package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The PROXY stages' decisions on an EmbeddedChannel whose peer address we choose. */
class ProxyProtocolGateTest {
    private static final String V1 = "PROXY TCP4 192.0.2.10 198.51.100.1 40000 25\r\n";
    private static final byte[] V2_SIG = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private final AtomicLong probes = new AtomicLong();

    /** Stands in for the session: records what reaches it. */
    private static final class Session extends ChannelInboundHandlerAdapter {
        boolean active;
        InetSocketAddress client;
        final StringBuilder read = new StringBuilder();
        final List<Object> events = new ArrayList<>();
        boolean inactive;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active = true;
            client = ctx.channel().attr(ProxyProtocolGate.CLIENT).get();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            read.append(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            events.add(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            inactive = true;
        }
    }

    private static final class PeerChannel extends EmbeddedChannel {
        private InetSocketAddress peer;

        PeerChannel() {
            super(DefaultChannelId.newInstance(), false, false);
        }

        @Override
        protected SocketAddress remoteAddress0() {
            return peer;
        }
    }

    private final Session session = new Session();

    private PeerChannel channel(String peer, List<String> trusted, boolean required) {
        PeerChannel ch = new PeerChannel();
        ch.peer = new InetSocketAddress(peer, 50000);
        ch.pipeline().addLast(SmtpServer.CONNECTION_LIMIT, new ChannelInboundHandlerAdapter());
        ProxyProtocolGate.install(ch.pipeline(), SmtpServer.CONNECTION_LIMIT,
                new ProxyProtocolSettings(trusted, required), Duration.ofSeconds(10), probes);
        ch.pipeline().addLast(SmtpServer.SESSION, session);
        try {
            ch.register();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return ch;
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    private static ByteBuf v2(int command, int family, byte[] addresses) {
        ByteBuf b = Unpooled.buffer();
        b.writeBytes(V2_SIG).writeByte(0x20 | command).writeByte(family).writeShort(addresses.length)
                .writeBytes(addresses);
        return b;
    }

    @Test
    void offWhenNoTrustedNetworks() {
        PeerChannel ch = channel("127.0.0.1", List.of(), true);
        assertNull(ch.pipeline().get(SmtpServer.PROXY));
        assertNull(ch.pipeline().get(SmtpServer.PROXY_GATE));
        assertTrue(session.active);
    }

    @Test
    void requiredHoldsTheSessionUntilTheHeaderThenUsesItsSource() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), true);
        assertFalse(session.active, "no greeting before the header");
        ch.writeInbound(ascii("PROXY TCP4 192.0.2.10 "));
        assertFalse(session.active);
        ch.writeInbound(ascii("198.51.100.1 40000 25\r\nEHLO web1\r\n"));
        assertTrue(session.active);
        assertEquals(new InetSocketAddress("192.0.2.10", 40000), session.client);
        assertEquals("EHLO web1\r\n", session.read.toString());
        assertNull(ch.pipeline().get(SmtpServer.PROXY_GATE), "the gate leaves once the header is read");
        assertTrue(ch.isOpen());
    }

    @Test
    void requiredAcceptsV2Ipv6() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), true);
        byte[] addr = new byte[36];
        addr[0] = 0x20; addr[1] = 0x01; addr[2] = 0x0d; addr[3] = (byte) 0xb8; addr[15] = 0x09; // 2001:db8::9
        addr[32] = (byte) 0x9c; addr[33] = 0x40;                                               // port 40000
        addr[35] = 25;
        ch.writeInbound(v2(1, 0x21, addr));
        assertTrue(session.active);
        assertEquals("2001:db8:0:0:0:0:0:9", session.client.getAddress().getHostAddress());
    }

    @Test
    void untrustedPeerIsClosedWithoutGreeting() {
        PeerChannel ch = channel("127.0.0.1", List.of("10.0.0.0/8"), true);
        assertFalse(ch.isOpen(), "closed on connect: its header would not be believed anyway");
        assertFalse(session.active);
        assertFalse(session.inactive, "nothing reaches the session");
        assertEquals(0, probes.get(), "a refusal is not a probe");
    }

    @Test
    void malformedHeaderIsClosed() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), true);
        ch.writeInbound(ascii("PROXY TCP4 not-an-address 198.51.100.1 1 25\r\n"));
        assertFalse(ch.isOpen());
        assertFalse(session.active);
        assertEquals(0, probes.get());
    }

    @Test
    void smtpInsteadOfHeaderIsClosedWhenRequired() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), true);
        ch.writeInbound(ascii("EHLO client.example\r\n"));
        assertFalse(ch.isOpen());
        assertFalse(session.active);
    }

    @Test
    void noHeaderWithinTheTimeoutIsClosed() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), true);
        ch.advanceTimeBy(11, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertFalse(ch.isOpen());
        assertFalse(session.active);
    }

    @Test
    void closeBeforeTheHeaderIsAProbe() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), true);
        ch.close();
        assertEquals(1, probes.get());
        assertFalse(session.inactive);
    }

    @Test
    void v2LocalKeepsThePeerAddress() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), true);
        ch.writeInbound(v2(0, 0x00, new byte[0]));
        assertTrue(session.active);
        assertNull(session.client, "LOCAL: the connection's own endpoints count");
        assertTrue(ch.isOpen());
    }

    @Test
    void optionalGreetsAtOnceAndPassesPlainSmtp() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), false);
        assertTrue(session.active);
        ch.writeInbound(ascii("QU"));
        assertEquals("QU", session.read.toString(), "not a prefix of a PROXY signature: passed on at once");
        assertNull(ch.pipeline().get(SmtpServer.PROXY));
        ch.writeInbound(ascii("IT\r\n"));
        assertEquals("QUIT\r\n", session.read.toString());
    }

    @Test
    void optionalWaitsWhileTheBytesCouldStillBeAHeader() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), false);
        ch.writeInbound(ascii("PRO"));
        assertEquals("", session.read.toString());
        ch.writeInbound(ascii("XY TCP4 192.0.2.10 198.51.100.1 40000 25\r\n"));
        assertEquals(1, session.events.size());
        assertTrue(ch.isOpen());
    }

    @Test
    void optionalTrustedHeaderReplacesTheClient() {
        PeerChannel ch = channel("10.1.2.3", List.of("10.0.0.0/8"), false);
        ch.writeInbound(ascii(V1 + "EHLO web1\r\n"));
        assertEquals(List.of(new ProxyProtocolGate.ProxiedClient(new InetSocketAddress("192.0.2.10", 40000))),
                session.events);
        assertEquals("EHLO web1\r\n", session.read.toString());
    }

    @Test
    void optionalUntrustedHeaderIsClosed() {
        PeerChannel ch = channel("127.0.0.1", List.of("10.0.0.0/8"), false);
        ch.writeInbound(ascii(V1));
        assertFalse(ch.isOpen());
        assertTrue(session.events.isEmpty());
        assertEquals("", session.read.toString());
    }
}
