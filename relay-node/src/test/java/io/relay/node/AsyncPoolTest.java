package io.relay.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The node's JVM gets a common ForkJoin pool of at least two threads even on a machine
 * that the JDK would give one (two CPUs), so that Hazelcast's async map calls complete on
 * pool threads instead of starting a thread each. Checked in a child JVM that sees one
 * CPU, because the pool's size is fixed the first time anything uses it.
 */
class AsyncPoolTest {

    /** The child JVM: loads {@link Main} as {@code java -jar} does, then reports the pool's size. */
    public static final class Probe {
        public static void main(String[] args) throws Exception {
            Class.forName("io.relay.node.Main", true, Probe.class.getClassLoader());
            System.out.println("parallelism=" + ForkJoinPool.getCommonPoolParallelism());
        }
    }

    private static String run(String... jvmArgs) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "-XX:ActiveProcessorCount=1"));
        cmd.addAll(List.of(jvmArgs));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Probe.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void oneCpuStillGetsTwoPoolThreads() throws Exception {
        assertEquals("parallelism=2", run());
    }

    @Test
    void anOperatorsSettingIsKept() throws Exception {
        assertEquals("parallelism=3", run("-Djava.util.concurrent.ForkJoinPool.common.parallelism=3"));
    }
}
