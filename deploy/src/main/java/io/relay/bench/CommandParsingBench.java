package io.relay.bench;

import io.relay.node.smtpd.CommandParser;
import io.relay.node.smtpd.SmtpCommand;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * SMTP command parsing ({@link CommandParser}): the command lines of one ordinary
 * transaction (EHLO, MAIL FROM with SIZE and BODY, RCPT TO, DATA, QUIT) per operation.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Thread)
public class CommandParsingBench {
    private final CommandParser parser = new CommandParser();
    private final String ehlo = "EHLO web-3.app.example.com";
    private final String mail = "MAIL FROM:<notifications+bounce-7f3a@app.example.com> SIZE=4096 BODY=8BITMIME";
    private final String rcpt = "RCPT TO:<first.last@customer.example.org>";
    private final String data = "DATA";
    private final String quit = "QUIT";

    /** The five lines of a one-recipient transaction. */
    @Benchmark
    public void transaction(Blackhole bh) {
        bh.consume(parser.parse(ehlo, false));
        bh.consume(parser.parse(mail, false));
        bh.consume(parser.parse(rcpt, false));
        bh.consume(parser.parse(data, false));
        bh.consume(parser.parse(quit, false));
    }

    /** One MAIL FROM with parameters: the path grammar and the parameter scanner. */
    @Benchmark
    public SmtpCommand mailFrom() {
        return parser.parse(mail, false);
    }

    /** One RCPT TO. */
    @Benchmark
    public SmtpCommand rcptTo() {
        return parser.parse(rcpt, false);
    }
}
