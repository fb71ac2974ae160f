package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.config.ConfigLoader;
import io.relay.node.config.RoutingConfigs;
import io.relay.node.log.MailLog;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.Router;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 3: an address whose transport-map entry names a transport that does not exist is
 * kept in the queue with a clear log line, not dropped or bounced — and the other
 * recipients of the same message are delivered on their own routes.
 */
class UnknownTransportTest {
    @TempDir
    Path dir;

    @Test
    void unknownTransportDefersWithPostfixsLineAndTheOtherRecipientStillGoes() throws Exception {
        Path mail = dir.resolve("mail");
        var cfg = ConfigLoader.parse("""
                smtp:
                  default-transport: file:%s
                  transport-maps:
                    typo.example: "smpt:[mx.typo.example]"
                """.formatted(mail), "t.yaml");
        Router router = new Router(RoutingConfigs.from(cfg, w -> { }));
        Path logFile = dir.resolve("mail.log");
        RecordingQueue queue = new RecordingQueue();
        try (SmtpClient client = new SmtpClient("relay.test", Duration.ofSeconds(5), Duration.ofSeconds(5),
                Duration.ofSeconds(3), new AddressRecordResolver())) {
            Dispatcher d = Fixtures.dispatcher(router::route, client, new LocalNextHopLimiter(Duration.ofSeconds(30)),
                    20, queue, MailLog.open(logFile, "relay", "relay.test"));
            QueuedMessage m = Fixtures.message("app@example.com", List.of("Someone@Typo.Example", "ok@example.org"),
                    "hello\r\n");

            List<RecipientOutcome> out = d.deliver(Fixtures.attempt(m));

            RecipientOutcome.Deferred deferred = assertInstanceOf(RecipientOutcome.Deferred.class, out.get(0));
            assertEquals("Someone@Typo.Example", deferred.recipient());
            assertTrue(deferred.reason().contains("unknown transport \"smpt\""), deferred.reason());
            assertInstanceOf(RecipientOutcome.Delivered.class, out.get(1));
            assertTrue(queue.accepted.isEmpty(), "no bounce for a configuration problem");
            String log = Files.readString(logFile);
            assertTrue(log.matches("(?s).* relay/error\\[\\d+\\]: " + m.id().value()
                    + ": to=<Someone@Typo\\.Example>, relay=none, delay=[0-9.]+, delays=[0-9./]+, dsn=4\\.3\\.0, "
                    + "status=deferred \\(mail transport unavailable: unknown transport \"smpt\"\\)\n.*"), log);
            assertTrue(!log.contains(m.id().value() + ": removed"), "a deferred recipient keeps the message: " + log);
        }
    }
}
