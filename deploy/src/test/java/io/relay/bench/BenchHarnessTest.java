package io.relay.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark harness without the benchmark: deploy/bench/bench.py's parsing and report
 * logic on canned input ({@code bench.py selftest}: GC log, heap info, Prometheus text,
 * smtp-source's refusals, mail-log counting, the YAML merge, the tables and CSVs with their
 * ratio rows). The benchmark itself never runs in {@code mvn verify}.
 */
class BenchHarnessTest {
    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final Path BENCH = Path.of("bench/bench.py"); // relative to the deploy module

    @Test
    void reportLogicOnCannedInput(@TempDir Path out) throws IOException, InterruptedException {
        if (!Files.isExecutable(PYTHON)) {
            if (Boolean.getBoolean("relay.requireTools")) {
                throw new AssertionError("missing tool: /usr/bin/python3");
            }
            Assumptions.abort("missing tool: /usr/bin/python3");
        }
        Process p = new ProcessBuilder(PYTHON.toString(), BENCH.toString(), "selftest", out.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bench.py selftest did not finish");
        assertEquals(0, p.exitValue(), "bench.py selftest failed:\n" + output);
        assertTrue(output.contains("selftest: 1 passed, 0 failed"), output);

        List<String> csv = Files.readAllLines(out.resolve("bench.csv"));
        assertEquals("scenario,system,accepted_per_s,e2e_per_s,p50_ms,p99_ms,probe_rate,cpu_per_1000,peak_rss_mb,"
                + "peak_pss_mb,notes", csv.get(0));
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("a,ratio relay/postfix,2.222,2.000,")), String.join("\n", csv));
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("e,relay,") && l.contains("0 x 452")), String.join("\n", csv));
        String table = Files.readString(out.resolve("bench.txt"));
        assertTrue(table.contains("ratio cluster/one node (a)"), table);

        // the bursts of issue 17: their own CSV, rates over (a)'s, (r)'s restarts and its count
        List<String> bursts = Files.readAllLines(out.resolve("bench-bursts.csv"));
        assertTrue(bursts.get(0).startsWith("scenario,system,messages,accepted,rejected_452,replies_non_2xx,"
                + "accepted_per_s,accept_vs_a,e2e_per_s,drain_vs_a,heap_peak_mb,"), bursts.get(0));
        assertTrue(bursts.stream().anyMatch(l -> l.startsWith("f,relay,1000000,1000000,0,0,1620.000,0.900,1980.000,1.100,")),
                String.join("\n", bursts));
        assertTrue(table.contains("SMTP greeting s"), table);
    }
}
