package io.relay.bench;

import io.relay.node.delivery.ClusterNextHopLimiter;
import io.relay.node.delivery.NextHopLimiter;
import io.relay.queue.ClusterLimits;
import io.relay.queue.ClusterMember;
import io.relay.queue.ClusterSettings;
import io.relay.routing.RateLimit;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cluster limiter on a one-member cluster (an embedded Hazelcast member on loopback):
 * {@link ClusterLimits#reserve} (one entry-processor round trip), and the delivery's path
 * through {@link ClusterNextHopLimiter}: a connection lease and a send slot of a lane whose
 * rate (1,000,000/s) never makes it wait, from 1 and from 20 threads (the delivery workers).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dhazelcast.logging.type=none", "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED"})
public class ClusterLimiterBench {
    private static final String LANE = "smtp:[email-smtp.eu-west-1.amazonaws.com]:587";

    @State(Scope.Benchmark)
    public static class Cluster {
        ClusterMember member;
        ClusterLimits limits;
        ClusterNextHopLimiter limiter;
        final List<RateLimit> rates = List.of(RateLimit.parse("1000000/s"));
        final List<ClusterLimits.Rate> clusterRates = List.of(new ClusterLimits.Rate(1_000_000, 1_000_000_000L, "1000000/s"));

        @Setup(Level.Trial)
        public void start() throws IOException {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            member = ClusterMember.start(new ClusterSettings("bench-" + port, "127.0.0.1", port,
                    List.of("127.0.0.1:" + port), 0));
            limits = new ClusterLimits(member.hazelcast());
            limiter = new ClusterNextHopLimiter(limits, Duration.ofSeconds(10));
        }

        @TearDown(Level.Trial)
        public void stop() {
            limiter.close();
            member.close();
        }
    }

    /** One reservation of one slot: the entry processor's round trip on the owning member. */
    @Benchmark
    @Threads(1)
    public ClusterLimits.Reservation reserve(Cluster c) {
        return c.limits.reserve(LANE, c.clusterRates, 1, 1, 1_000_000_000L);
    }

    private static Object delivery(Cluster c) throws InterruptedException {
        try (NextHopLimiter.ConnectionPermit p = c.limiter.acquireConnection(LANE, 50).orElseThrow()) {
            return c.limiter.awaitRate(LANE, c.rates, 1);
        }
    }

    /** A delivery's limiter calls: connection lease (cached after the first), then the send slot. */
    @Benchmark
    @Threads(1)
    public Object delivery1(Cluster c) throws InterruptedException {
        return delivery(c);
    }

    @Benchmark
    @Threads(20)
    public Object delivery20(Cluster c) throws InterruptedException {
        return delivery(c);
    }
}
