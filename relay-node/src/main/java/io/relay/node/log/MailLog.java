package io.relay.node.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.LoggerFactory;

/**
 * The mail log: one line per mail event in the shape of Postfix's maillog
 * ({@code Nov 22 20:56:28 host relay/smtpd[4711]: 3F2A9C01B7: client=...}), so that
 * pflogsumm ({@code --syslog-name=relay}) and operators' greps keep working.
 *
 * <p>Only mail events come here. Health checks, load-balancer probes and the node's own
 * diagnostics go to other loggers (stderr), never to this one.
 *
 * <p>Each "program" of Postfix that would have logged the event has its own logger
 * ({@code maillog.smtpd}, {@code maillog.cleanup}, {@code maillog.qmgr},
 * {@code maillog.smtp}, {@code maillog.bounce}, ...), and its last name becomes the
 * program in the line.
 *
 * <p>Every line goes through {@link Printable#mask}: addresses, HELO names, Message-IDs and
 * replies come from clients and peers, and a raw control, line-separator or bidi character
 * would forge a line or drive the reader's terminal.
 */
public final class MailLog {
    public static final String ROOT = "maillog";

    private final Logger smtpd;
    private final Logger cleanup;
    private final Logger qmgr;
    private final Logger smtp;
    private final Logger bounce;
    private final LoggerContext context;
    /** The writer of {@code log.file}; null when the mail log goes to stdout. */
    private final FileAppender<ILoggingEvent> file;

    private MailLog(LoggerContext context, FileAppender<ILoggingEvent> file) {
        this.context = context;
        this.file = file;
        this.smtpd = context.getLogger(ROOT + ".smtpd");
        this.cleanup = context.getLogger(ROOT + ".cleanup");
        this.qmgr = context.getLogger(ROOT + ".qmgr");
        this.smtp = context.getLogger(ROOT + ".smtp");
        this.bounce = context.getLogger(ROOT + ".bounce");
    }

    /**
     * Sends the mail log to {@code file} (appending), or to stdout when it is null.
     *
     * @param syslogName the program name pflogsumm looks for ({@code log.syslog-name})
     * @param hostname   the host name written in every line
     */
    public static MailLog open(Path file, String syslogName, String hostname) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger root = ctx.getLogger(ROOT);
        root.detachAndStopAllAppenders();
        root.setAdditive(false);
        root.setLevel(Level.INFO);

        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(ctx);
        long pid = ProcessHandle.current().pid();
        // "%d{MMM dd HH:mm:ss}" is the traditional syslog stamp that pflogsumm parses.
        encoder.setPattern("%d{MMM dd HH:mm:ss} " + hostname + " " + syslogName + "/%logger{0}[" + pid + "]: %msg%n");
        encoder.start();

        OutputStreamAppender<ILoggingEvent> appender;
        FileAppender<ILoggingEvent> fa = null;
        if (file != null) {
            // logback only records a file it cannot open in its status list, so try first:
            // a mail log that cannot be written must stop the start, not vanish
            writable(file);
            fa = new FileAppender<>();
            fa.setFile(file.toString());
            fa.setAppend(true);
            fa.setPrudent(false);
            appender = fa;
        } else {
            appender = new ConsoleAppender<>();
        }
        appender.setContext(ctx);
        appender.setName("maillog");
        appender.setEncoder(encoder);
        appender.setImmediateFlush(true);
        appender.start();
        if (!appender.isStarted()) {
            throw new UncheckedIOException(new IOException("cannot open " + file));
        }
        root.addAppender(appender);
        return new MailLog(ctx, fa);
    }

    /**
     * Closes the mail log file and opens it again at its path, appending, as Postfix's
     * postlog does on {@code postfix reload}: after logrotate moved the file away, the lines
     * go to a new file at the configured path. Lines being written meanwhile wait for the
     * switch (the appender's own lock); none is lost. Nothing to do when it goes to stdout.
     *
     * @throws IOException when the file cannot be opened; the old one stays in use then
     */
    public void reopen() throws IOException {
        if (file == null) {
            return;
        }
        Path path = Path.of(file.getFile());
        try {
            writable(path);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        file.openFile(path.toString());
    }

    /** The mail log's file, or null for stdout. */
    public Path file() {
        return file == null ? null : Path.of(file.getFile());
    }

    private static void writable(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null && !Files.exists(parent)) {
                Files.createDirectories(parent); // as logback would
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (var out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Inbound sessions: connect, client=, reject:, lost connection, disconnect. */
    public void smtpd(String line) {
        smtpd.info(Printable.mask(line));
    }

    /** Message accepted into the queue: message-id=. */
    public void cleanup(String line) {
        cleanup.info(Printable.mask(line));
    }

    /** Queue manager: from=<..>, size=.., nrcpt=.. (queue active); removed; expired. */
    public void qmgr(String line) {
        qmgr.info(Printable.mask(line));
    }

    /** Outbound deliveries: to=<..>, relay=.., delay=.., delays=.., dsn=.., status=... */
    public void smtp(String line) {
        smtp.info(Printable.mask(line));
    }

    /** Non-delivery notifications: sender non-delivery notification: ID. */
    public void bounce(String line) {
        bounce.info(Printable.mask(line));
    }

    /** A local transport's delivery line under its own program name (file, discard, error). */
    public void agent(String program, String line) {
        context.getLogger(ROOT + "." + program).info(Printable.mask(line));
    }

    /** Postfix-style warnings ("warning: ...") in the mail log, under the program that saw it. */
    public void warning(String program, String text) {
        context.getLogger(ROOT + "." + program).warn("warning: " + Printable.mask(text));
    }
}
