package io.relay.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * deploy/systemd/relay.service: systemd must wait out the whole drain before it SIGKILLs
 * the node, stop it with SIGTERM, and a clean drain (exit 0) must not count as a failure;
 * and systemd itself accepts the file.
 */
class SystemdUnitTest {
    private static final Path UNIT = Path.of("systemd/relay.service");
    private static final Path ENV = Path.of("systemd/relay.env");

    private static Map<String, String> settings(Path file) throws Exception {
        Map<String, String> out = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && !line.startsWith("[") && eq > 0) {
                out.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
            }
        }
        return out;
    }

    @Test
    void stopWaitsLongerThanTheDrain() throws Exception {
        Map<String, String> unit = settings(UNIT);
        assertEquals("SIGTERM", unit.get("KillSignal"));
        int timeout = Integer.parseInt(unit.get("TimeoutStopSec"));
        // the defaults documented for it (relay.env): drain-delay 30s + drain-timeout 60s, plus the hand-over
        String env = Files.readString(ENV);
        assertTrue(env.contains("TimeoutStopSec (150 s)"), "relay.env names the unit's stop timeout");
        assertTrue(timeout >= 30 + 60 + 30, "TimeoutStopSec " + timeout + " leaves no time for the hand-over");
        assertEquals("on-failure", unit.get("Restart"), "a clean drain (exit 0) is not restarted");
        assertTrue(unit.get("ExecStart").contains("--config ${RELAY_CONFIG}"));
        assertTrue(unit.get("ExecStart").contains("-XX:+ExitOnOutOfMemoryError"),
                "an OutOfMemoryError ends the JVM (and Restart=on-failure starts a new one) whatever JAVA_OPTS says");
        assertEquals("/bin/kill -HUP $MAINPID", unit.get("ExecReload"), "systemctl reload: SIGHUP, no restart");
        assertEquals("/etc/default/relay", unit.get("EnvironmentFile"));
        assertTrue(settings(ENV).containsKey("RELAY_CONFIG") && settings(ENV).containsKey("JAVA_OPTS"));
        assertEquals("CAP_NET_BIND_SERVICE", unit.get("AmbientCapabilities"), "25/587 as an unprivileged user");
        assertTrue(List.of(unit.get("ReadWritePaths").split(" ")).containsAll(List.of("/var/spool/relay",
                "/var/log/relay")), "the spool and the mail log stay writable under ProtectSystem=strict");
    }

    @Test
    void systemdAcceptsTheUnit() throws Exception {
        Path analyze = Path.of("/usr/bin/systemd-analyze");
        boolean present = Files.isExecutable(analyze) && Files.isExecutable(Path.of("/usr/bin/java"));
        if (!present && Boolean.getBoolean("relay.requireTools")) {
            fail("required tool missing: /usr/bin/systemd-analyze (and /usr/bin/java, the unit's ExecStart)");
        }
        assumeTrue(present, "skipped: systemd-analyze or /usr/bin/java is not installed");
        Process p = new ProcessBuilder(analyze.toString(), "verify", UNIT.toAbsolutePath().toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.isBlank(), "systemd-analyze verify complains: " + out);
    }
}
