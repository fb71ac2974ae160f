package io.relay.node.smtpd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.RejectReason;
import io.relay.queue.Envelope;
import io.relay.queue.MessageBody;
import io.relay.queue.MessageQueue;
import io.relay.queue.QueueFullException;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One inbound SMTP session: the last stage of the channel pipeline. Takes the framer's
 * {@link SmtpInput}s strictly in order, dispatches commands through the immutable
 * {@link CommandHandlers} table, and writes replies that are flushed once per read batch
 * (so a pipelined batch is answered in one write).
 *
 * <p>At end of DATA it assembles the message ({@link MessageAssembly}) and hands it to the
 * queue, which does not block (on the blocking executor above {@link #ACCEPT_ON_LOOP_MAX_BYTES});
 * decoding is paused until the queue answers, and the reply is written on the channel's
 * event loop. Writes the smtpd mail-log lines (connect,
 * client=, reject, lost connection, timeout, disconnect), but only once the client has sent
 * something: a connection that closes silently is a load-balancer probe and is only counted
 * ({@code relay_smtp_quiet_probes_total}) and logged at DEBUG on {@code io.relay.node.smtpd.probe}.
 * Counts its session, accepted messages and recipients, and refusals by {@link RejectReason}.
 * A message the node's {@link ReceiveMemory} had no room for is answered 452 4.3.1 at DATA or
 * at its final dot.
 *
 * <p>On a listener that offers AUTH ({@link SmtpListener}), a client outside mynetworks is
 * first checked for a lockout (421 instead of the greeting); the AUTH exchange itself is
 * {@link SessionAuth}'s. Work that may block (that check, the password, a user's rate) runs
 * through {@link #offLoop}: reading pauses, the answer is written on the event loop, and
 * what the client pipelined meanwhile is decoded afterwards, in order.
 */
final class SmtpSession extends ChannelInboundHandlerAdapter {
    private static final Logger DIAG = LoggerFactory.getLogger("io.relay.node.smtpd.probe");
    private static final Logger LOG = LoggerFactory.getLogger(SmtpSession.class);
    /** Messages up to this size are handed to the queue on the event loop, larger ones on the blocking executor. */
    static final int ACCEPT_ON_LOOP_MAX_BYTES = 256 * 1024;
    /** How much of a large message's start is read back for its headers (Received count, Message-ID, Date). */
    static final int HEADER_SCAN_BYTES = 64 * 1024;

    private final SessionServices services;
    private final SmtpFramer framer;
    private final String listener;
    private final SmtpListener role;
    private final SessionState state = new SessionState();
    private final CommandCounters counters = new CommandCounters();

    private ChannelHandlerContext ctx;
    private InetAddress clientAddress;
    private String clientIp = "unknown";
    private boolean active;      // the client sent something: the session is in the mail log
    private boolean closing;     // we are ending the session (QUIT, 421, 521 ...)
    private boolean lineMoreBuffered;
    private int errors;
    private String lastCommand = "CONNECT";
    private boolean greeted;     // the 220 (or the lockout's 421) was sent: connectionOpened was counted
    /** The AUTH exchange of this session: while it waits for a line, that line is no command. */
    private final SessionAuth auth = new SessionAuth(this);
    /** A command whose answer waits for the blocking executor: counted when it is answered. */
    private boolean answerPending;

    SmtpSession(SessionServices services, SmtpFramer framer, SmtpListener listener) {
        this.services = services;
        this.framer = framer;
        this.listener = listener.label();
        this.role = listener;
    }

    // ---- Netty events

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        InetSocketAddress proxied = ctx.channel().attr(ProxyProtocolGate.CLIENT).get();
        if (proxied != null) {
            useClient(proxied);
        } else if (ctx.channel().remoteAddress() instanceof InetSocketAddress isa) {
            useClient(isa);
        }
        state.tls = role.role().implicitTls();
        if (role.authOffered() && clientAddress != null && !services.policy().trustedClient(clientAddress)) {
            // a client locked out for failed AUTHs is turned away before it can try again
            InetAddress client = clientAddress;
            offLoop(() -> services.sasl().failures().locked(client), locked -> {
                if (locked) {
                    lockedOut();
                } else {
                    greet();
                }
                return !locked;
            }, null, failure -> { // the count is out of reach: greet; AUTH asks again
                greet();
                return true;
            });
        } else {
            greet();
        }
        ctx.fireChannelActive();
    }

    private void greet() {
        greeted = true;
        services.metrics().connectionOpened(listener);
        ctx.writeAndFlush(line("220 " + services.settings().hostname() + " ESMTP"));
    }

    private void lockedOut() {
        greeted = true;
        services.metrics().connectionOpened(listener);
        services.metrics().authLockout(listener, "connect");
        active = true; // in the mail log like any refused client, though it sent nothing
        String reply = "421 4.7.0 " + services.settings().hostname()
                + " Error: too many failed authentications; try again later";
        services.mailLog().smtpd("connect from " + clientText());
        services.mailLog().smtpd("NOQUEUE: reject: CONNECT from " + clientText() + ": " + reply + "; proto=SMTP");
        replyAndClose(reply);
    }

    private void useClient(InetSocketAddress isa) {
        if (isa.getAddress() != null) {
            clientAddress = isa.getAddress();
            clientIp = clientAddress.getHostAddress();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing) {
            return;
        }
        if (!active) {
            active = true;
            services.mailLog().smtpd("connect from " + clientText());
        }
        SmtpInput input = (SmtpInput) msg;
        if (auth.waiting()) { // the line answers our 334: not a command, never parsed or logged
            auth.response(input);
            return;
        }
        if (input instanceof SmtpInput.CommandLine l) {
            command(l);
        } else if (input instanceof SmtpInput.MessageContent m) {
            lastCommand = "END-OF-MESSAGE";
            endOfData(m);
        } else if (input instanceof SmtpInput.MessageFile f) {
            lastCommand = "END-OF-MESSAGE";
            endOfData(f);
        } else if (input instanceof SmtpInput.NoReceiveMemory) {
            lastCommand = "END-OF-MESSAGE";
            finishData(reject(RejectReason.MEMORY, "END-OF-MESSAGE", CommandHandlers.STORAGE, state.sender,
                    state.recipients.get(0)));
        } else if (input instanceof SmtpInput.LineTooLong) {
            reply("500 5.5.2 Error: line too long");
        } else if (input instanceof SmtpInput.MalformedLine) {
            reply("500 5.5.2 Error: bad UTF-8 syntax");
        } else if (input instanceof SmtpInput.BareNewline b) {
            services.mailLog().warning("smtpd", "disallowed bare " + b.which() + " received from " + clientText());
            refused(RejectReason.BARE_NEWLINE);
            replyAndClose("521 5.5.2 " + services.settings().hostname() + " Error: bare " + b.which() + " received");
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (this.ctx == null) {
            return; // not started: the PROXY gate is still waiting for the header and owns the timeout
        }
        if (evt instanceof ProxyProtocolGate.ProxiedClient p) {
            if (!active) { // an optional PROXY header comes before any command
                useClient(p.address());
            }
            return;
        }
        // while the queue is storing a message the wait is ours, not the client's
        if (evt instanceof IdleStateEvent && !closing && !framer.paused()) {
            if (active) {
                services.mailLog().smtpd("timeout after " + lastCommand + " from " + clientText());
            }
            if (state.phase != SessionState.Phase.GREETED && state.phase != SessionState.Phase.READY) {
                refused(RejectReason.TIMEOUT); // a transaction was cut off
            }
            replyAndClose("421 4.4.2 " + services.settings().hostname() + " Error: timeout exceeded");
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (this.ctx != null && greeted) {
            services.metrics().connectionClosed(listener);
        }
        if (active) {
            MailLog log = services.mailLog();
            if (!closing) {
                String after = state.phase == SessionState.Phase.DATA
                        ? "DATA (" + framer.dataBytes() + " bytes)" : lastCommand;
                log.smtpd("lost connection after " + after + " from " + clientText());
            }
            if (state.phase == SessionState.Phase.DATA) {
                counters.count("data", false); // DATA that never reached its final dot failed
            }
            log.smtpd("disconnect from " + clientText() + counters.summary());
        } else {
            services.probes().incrementAndGet();
            services.metrics().quietProbe(listener);
            DIAG.debug("connection from {} closed before any command (probe)", clientIp);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("session with {} failed", clientIp, cause);
        ctx.close();
    }

    // ---- commands

    private void command(SmtpInput.CommandLine l) {
        if (errors >= services.settings().hardErrorLimit()) {
            services.mailLog().smtpd("too many errors after " + lastCommand + " from " + clientText());
            replyAndClose("421 4.7.0 " + services.settings().hostname() + " Error: too many errors");
            return;
        }
        lineMoreBuffered = l.moreBuffered();
        SmtpCommand cmd = services.parser().parse(l.text(), state.smtpUtf8);
        lastCommand = cmd instanceof SmtpCommand.Unknown ? "UNKNOWN" : cmd.verb().toUpperCase(java.util.Locale.ROOT);
        if (cmd instanceof SmtpCommand.SyntaxError e && ("mail".equals(e.verb()) || "rcpt".equals(e.verb()))) {
            refused(RejectReason.SYNTAX);
        }
        answerPending = false;
        boolean ok = services.handlers().dispatch(this, cmd);
        if (!(cmd instanceof SmtpCommand.Data && state.phase == SessionState.Phase.DATA) && !answerPending) {
            counters.count(cmd.verb(), ok);
        }
    }

    // ---- off the event loop

    /** As below, answering a failure of {@code work} with 454 4.7.0. */
    <T> void offLoop(Supplier<T> work, Function<T, Boolean> then, String verb) {
        offLoop(work, then, verb, failure -> reply("454 4.7.0 Temporary authentication failure"));
    }

    /**
     * Runs {@code work} on the blocking executor and {@code then} with its result on the event
     * loop, reading nothing from the client meanwhile (commands pipelined behind are decoded
     * afterwards, in order). {@code then} (or {@code onFailure}, when {@code work} threw)
     * answers and says whether the command succeeded; {@code verb}, when not null, is counted
     * for the disconnect line with that answer.
     */
    <T> void offLoop(Supplier<T> work, Function<T, Boolean> then, String verb,
                     Function<Throwable, Boolean> onFailure) {
        answerPending = true;
        framer.pause(true);
        ctx.channel().config().setAutoRead(false);
        CompletableFuture<T> done;
        try {
            done = CompletableFuture.supplyAsync(work, services.blockingExecutor());
        } catch (RuntimeException e) { // the executor refused: shutting down
            done = CompletableFuture.failedFuture(e);
        }
        done.whenCompleteAsync((result, failure) -> {
            if (!ctx.channel().isActive()) {
                return;
            }
            boolean ok;
            if (failure != null) {
                LOG.warn("smtpd: {} for {} failed: {}", verb == null ? "a check" : verb, clientIp,
                        unwrap(failure).getClass().getName()); // never the message: it might quote credentials
                ok = onFailure.apply(failure);
            } else {
                ok = then.apply(result);
            }
            if (verb != null) {
                counters.count(verb, ok);
            }
            ctx.flush();
            if (!closing) {
                resumeReading();
            }
        }, ctx.executor());
    }

    /** Reads again after a pause, first decoding what the client pipelined meanwhile. */
    private void resumeReading() {
        framer.pause(false);
        ctx.channel().config().setAutoRead(true);
        if (framer.hasBuffered()) { // commands pipelined behind, decoded now in order
            ChannelHandlerContext framerCtx = ctx.pipeline().context(framer);
            try {
                framer.channelRead(framerCtx, Unpooled.EMPTY_BUFFER);
                framer.channelReadComplete(framerCtx);
            } catch (Exception e) {
                exceptionCaught(ctx, e);
            }
        }
    }

    private void endOfData(SmtpInput.MessageContent m) {
        String id = state.queueId;
        if (m.oversized()) {
            finishData(reject(RejectReason.SIZE, "END-OF-MESSAGE", "552 5.3.4 Error: message file too big",
                    state.sender, state.recipients.get(0)));
            return;
        }
        String rcpt = state.recipients.size() == 1 ? state.recipients.get(0) : null;
        var now = services.clock().instant();
        MessageAssembly.Result result = services.assembly().assemble(m.content(), id, state.helo, clientIp,
                state.protocol(), rcpt, now);
        if (result instanceof MessageAssembly.Result.TooManyHops) {
            finishData(reject(RejectReason.HOPS, "END-OF-MESSAGE", "554 5.4.6 Error: too many hops", state.sender,
                    state.recipients.get(0)));
            return;
        }
        MessageAssembly.Result.Assembled assembled = (MessageAssembly.Result.Assembled) result;
        store(new QueuedMessage(new QueueId(id), envelope(now), assembled.content()), assembled.messageId());
    }

    /** A large message, streamed to a file as it arrived: its headers are read back, the rest stays on disk. */
    private void endOfData(SmtpInput.MessageFile f) {
        String id = state.queueId;
        String rcpt = state.recipients.size() == 1 ? state.recipients.get(0) : null;
        var now = services.clock().instant();
        MessageAssembly.Result result;
        try {
            // a read of the file's first 64 KiB from the page cache it was just written to
            byte[] head = new MessageBody.OnDisk(new byte[0], f.file(), f.length()).head(HEADER_SCAN_BYTES);
            result = services.assembly().prefix(head, id, state.helo, clientIp, state.protocol(), rcpt, now);
        } catch (IOException e) {
            LOG.warn("{}: cannot read back the content of a large message: {}", id, e.toString());
            deleteQuietly(f.file());
            finishData(reject(RejectReason.OTHER, "END-OF-MESSAGE", "451 4.3.0 Error: queue file write error",
                    state.sender, state.recipients.get(0)));
            return;
        }
        if (result instanceof MessageAssembly.Result.TooManyHops) {
            deleteQuietly(f.file());
            finishData(reject(RejectReason.HOPS, "END-OF-MESSAGE", "554 5.4.6 Error: too many hops", state.sender,
                    state.recipients.get(0)));
            return;
        }
        MessageAssembly.Result.Prefixed p = (MessageAssembly.Result.Prefixed) result;
        store(new QueuedMessage(new QueueId(id), envelope(now),
                new MessageBody.OnDisk(p.prefix(), f.file(), f.length())), p.messageId());
    }

    private Envelope envelope(java.time.Instant now) {
        return new Envelope(state.sender, state.recipients, "unknown", clientIp, state.helo,
                state.protocol(), state.smtpUtf8, state.eightBitMime, now.toEpochMilli());
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.debug("cannot remove {}: {}", file, e.toString());
        }
    }

    /** Hands the message to the queue, reading no more commands until it answers. */
    private void store(QueuedMessage message, String messageId) {
        framer.pause(true);
        ctx.channel().config().setAutoRead(false);
        MessageQueue queue = services.queue();
        CompletableFuture<Void> stored;
        try {
            // accept() only encodes the message and hands it to the spool and the cluster store
            // (it waits for neither): on the event loop for all but large messages, whose copies
            // would hold up the loop's other sessions.
            stored = !message.onDisk() && message.size() <= ACCEPT_ON_LOOP_MAX_BYTES ? queue.accept(message)
                    : CompletableFuture.supplyAsync(() -> queue.accept(message), services.blockingExecutor())
                            .thenCompose(f -> f);
        } catch (RuntimeException e) { // executor refused, queue closing
            stored = CompletableFuture.failedFuture(e);
        }
        stored.whenCompleteAsync((v, failure) -> stored(message, messageId, failure), ctx.executor());
    }

    private void stored(QueuedMessage message, String messageId, Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause != null && message.body() instanceof MessageBody.OnDisk d) {
            deleteQuietly(d.file()); // still in the incoming directory: the queue did not take it
        }
        if (!ctx.channel().isActive()) {
            return;
        }
        boolean ok;
        if (cause == null) {
            String id = message.id().value();
            ok = reply("250 2.0.0 Ok: queued as " + id);
            services.metrics().messageAccepted(listener);
            MailLog log = services.mailLog();
            log.cleanup(id + ": message-id=" + messageId);
            log.qmgr(id + ": from=<" + message.envelope().sender() + ">, size=" + message.size()
                    + ", nrcpt=" + message.envelope().recipients().size() + " (queue active)");
        } else if (cause instanceof QueueFullException) {
            ok = reject(RejectReason.BACKPRESSURE, "END-OF-MESSAGE", CommandHandlers.STORAGE, state.sender,
                    state.recipients.get(0));
        } else {
            LOG.warn("queue refused message {}: {}", message.id(), cause.toString());
            ok = reject(RejectReason.OTHER, "END-OF-MESSAGE", "451 4.3.0 Error: queue file write error",
                    state.sender, state.recipients.get(0));
        }
        finishData(ok);
        ctx.flush();
        resumeReading();
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private void finishData(boolean ok) {
        counters.count("data", ok);
        state.resetTransaction();
    }

    // ---- used by the command handlers

    SessionState state() {
        return state;
    }

    /** AUTH with an offered mechanism, every precondition checked: the exchange starts and counts itself. */
    void startAuth(SmtpCommand.Auth c) {
        answerPending = true;
        auth.start(c);
    }

    /** Counts {@code verb} for the disconnect line (a command answered later than its dispatch). */
    void count(String verb, boolean ok) {
        counters.count(verb, ok);
    }

    /** The client's address (the PROXY source behind a load balancer); null when not an IP connection. */
    InetAddress clientAddress() {
        return clientAddress;
    }

    /** Hands an input that ended an AUTH exchange back to the ordinary path (a bare CR ends the session). */
    void readAgain(SmtpInput input) {
        channelRead(ctx, input);
    }

    String listenerLabel() {
        return listener;
    }

    SmtpdSettings settings() {
        return services.settings();
    }

    SessionServices services() {
        return services;
    }

    MessageQueue queue() {
        return services.queue();
    }

    MailLog mailLog() {
        return services.mailLog();
    }

    boolean tlsAvailable() {
        return services.sslContext() != null;
    }

    boolean relayPermitted(String recipient) {
        // permit_sasl_authenticated: a user is only ever set on a listener that offered AUTH
        return clientAddress != null && services.policy().permitted(clientAddress, state.user != null, recipient);
    }

    /** Whether the client is in mynetworks (a submission listener lets it send without AUTH). */
    boolean trustedClient() {
        return clientAddress != null && services.policy().trustedClient(clientAddress);
    }

    SmtpListener listener() {
        return role;
    }

    String clientText() {
        return "unknown[" + clientIp + "]";
    }

    /** The client= line's tail after a successful AUTH, as Postfix writes it (pflogsumm and greps read it). */
    String saslText() {
        return state.user == null ? "" : ", sasl_method=" + state.saslMethod + ", sasl_username=" + state.user.name();
    }

    boolean moreInputBuffered() {
        return lineMoreBuffered || framer.hasBuffered();
    }

    /** Writes a reply (flushed at the end of the read batch); returns whether it is a success code. */
    boolean reply(String text) {
        ctx.write(line(text));
        char c = text.charAt(0);
        boolean success = c == '2' || c == '3';
        if (!success) {
            errors++;
        }
        return success;
    }

    void replyAndClose(String text) {
        closing = true;
        framer.pause(true);
        ctx.writeAndFlush(line(text)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Counts a refused message or recipient (a reply that is not a mail-log reject line). */
    void refused(RejectReason reason) {
        services.metrics().messageRejected(reason);
    }

    /** A RCPT TO was answered 250. */
    void recipientAccepted() {
        services.metrics().recipientAccepted();
    }

    /** Answers with a Postfix-shaped reject line in the mail log and counts it; returns false. */
    boolean reject(RejectReason reason, String stage, String reply, String from, String to) {
        refused(reason);
        StringBuilder sb = new StringBuilder(160);
        sb.append(state.clientLogged ? state.queueId : "NOQUEUE").append(": reject: ").append(stage)
                .append(" from ").append(clientText()).append(": ").append(reply).append(';');
        if (from != null) {
            sb.append(" from=<").append(from).append('>');
        }
        if (to != null) {
            sb.append(" to=<").append(to).append('>');
        }
        sb.append(" proto=").append(state.esmtp ? "ESMTP" : "SMTP").append(" helo=<").append(state.helo).append('>');
        services.mailLog().smtpd(sb.toString());
        reply(reply);
        return false;
    }

    /** Switches the framer to DATA; false when the node's receive budget has no room (answer 452). */
    boolean startData() {
        return framer.startData(services.queue().incomingBody(new QueueId(state.queueId)));
    }

    /** Answers 220 in clear text, then everything after is TLS; EHLO and the transaction are forgotten. */
    void startTls() {
        SslHandler tls = new SslHandler(services.sslContext().newEngine(ctx.alloc()), true);
        ctx.pipeline().addBefore(SmtpServer.FRAMER, SmtpServer.TLS, tls);
        ctx.writeAndFlush(line("220 2.0.0 Ready to start TLS"));
        state.resetAll();
        state.tls = true;
    }

    private ByteBuf line(String text) {
        byte[] bytes = (text + "\r\n").getBytes(StandardCharsets.UTF_8);
        return Unpooled.wrappedBuffer(bytes);
    }
}
