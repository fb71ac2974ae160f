package io.relay.node.admin;

import io.relay.node.cluster.QueueNextHops;
import io.relay.node.cluster.RoutingOverlay;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.relay.queue.QueueId;
import io.relay.queue.QueueMeta;
import io.relay.queue.QueueView;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import io.relay.routing.RoutingConfig;
import io.relay.routing.TransportSettings;
import io.relay.routing.TransportTable;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pure parts of {@code /admin/v1/queue}: qshape buckets, routed next hops, states, header lines. */
class QueueEndpointTest {
    private static final long NOW = 1_000_000_000_000L;

    private static QueueView.Entry entry(String id, long ageMinutes, int attempts, boolean held, String... rcpts) {
        return new QueueView.Entry(new QueueId(id.repeat(10)), new QueueMeta(List.of(rcpts), attempts, NOW,
                NOW - ageMinutes * 60_000 - 1, "", 100, held));
    }

    @Test
    void summaryCountsEachMessageOncePerNextHopInItsAgeBucket() {
        QueueEndpoint.Summary s = QueueEndpoint.summarize(List.of(
                entry("A", 0, 0, false, "x@a.example"),
                entry("B", 7, 1, false, "y@a.example", "z@A.example"),
                entry("C", 15, 1, true, "x@b.example", "y@a.example"),
                entry("D", 200, 3, false, "x@b.example")), NOW);
        assertEquals(4, s.total());
        assertEquals(List.of("0-5m", "5-10m", "10-20m", "20-40m", "40-80m", "80m+"), s.buckets());
        assertEquals("TOTAL", s.rows().get(0).nexthop());
        assertArrayEquals(new long[] {1, 1, 1, 0, 0, 1}, s.rows().get(0).counts());
        assertEquals("a.example", s.rows().get(1).nexthop());
        assertArrayEquals(new long[] {1, 1, 1, 0, 0, 0}, s.rows().get(1).counts());
        assertEquals("b.example", s.rows().get(2).nexthop());
        assertArrayEquals(new long[] {0, 0, 1, 0, 0, 1}, s.rows().get(2).counts());
    }

    @Test
    void bucketEdgesStatesAndNextHops() {
        assertEquals(0, QueueEndpoint.bucket(299_999));
        assertEquals(1, QueueEndpoint.bucket(300_000));
        assertEquals(4, QueueEndpoint.bucket(79 * 60_000));
        assertEquals(5, QueueEndpoint.bucket(80 * 60_000));
        assertEquals("active", QueueEndpoint.state(entry("A", 0, 0, false, "a@x").meta()));
        assertEquals("deferred", QueueEndpoint.state(entry("A", 0, 2, false, "a@x").meta()));
        assertEquals("hold", QueueEndpoint.state(entry("A", 0, 2, true, "a@x").meta()));
        assertEquals(Set.of("x.example", "(local)"),
                QueueEndpoint.nexthops(entry("A", 0, 0, false, "a@X.Example", "postmaster").meta()));
    }

    @Test
    void headersStopAtTheBlankLineAndJoinContinuations() {
        byte[] content = ("Received: from a\r\n\tby b; date\r\nSubject: hi\r\n\r\nSubject: not a header\r\n")
                .getBytes(StandardCharsets.UTF_8);
        assertEquals(List.of("Received: from a by b; date", "Subject: hi"), QueueEndpoint.headers(content));
    }

    @Test
    void nextHopsAreTheRoutersDecisionNotTheRecipientDomain() {
        RoutingConfig routing = new RoutingConfig("[email-smtp.us-east-1.amazonaws.com]:587", "smtp",
                TransportSettings.INHERIT, Map.of(), TransportTable.of(Map.of(
                        "partner.example", "smtp:[mx.partner.example]:2525",
                        "mx.example", "smtp:mx.example",
                        "null.example", "discard:")), null, Set.of());
        RoutingOverlay router = new RoutingOverlay(routing);
        var namer = QueueNextHops.of(router::route);
        assertEquals(List.of("[email-smtp.us-east-1.amazonaws.com]:587", "[mx.partner.example]:2525", "mx.example",
                "discard"), namer.nextHops("app@client.test", List.of("a@gmail.example", "b@yahoo.example",
                "c@partner.example", "d@mx.example", "e@null.example")));
        // the summary groups by what the queue stored
        QueueView.Entry e = new QueueView.Entry(new QueueId("A".repeat(20)), new QueueMeta(List.of("a@gmail.example",
                "c@partner.example"), 1, NOW, NOW - 1, "", 100, false,
                namer.nextHops("", List.of("a@gmail.example", "c@partner.example"))));
        QueueEndpoint.Summary s = QueueEndpoint.summarize(List.of(e), NOW);
        assertEquals(List.of("TOTAL", "[email-smtp.us-east-1.amazonaws.com]:587", "[mx.partner.example]:2525"),
                s.rows().stream().map(QueueEndpoint.Row::nexthop).toList());
    }
}
