package io.relay.node.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * External tools the end-to-end tests drive (swaks, smtp-sink, Postfix, aiosmtpd, ...).
 * On a laptop without one, the test is skipped with a line saying which; in CI
 * ({@code -Drelay.requireTools=true}, set by .ci/run) a missing tool fails the test.
 */
public final class Tools {
    private Tools() {
    }

    public static final String SWAKS = "/usr/bin/swaks";
    public static final String SMTP_SINK = "/usr/sbin/smtp-sink";
    public static final String SMTP_SOURCE = "/usr/sbin/smtp-source";
    public static final String POSTFIX = "/usr/sbin/postfix";
    public static final String PFLOGSUMM = "/usr/sbin/pflogsumm";
    public static final String PYTHON3 = "/usr/bin/python3";
    public static final String HAPROXY = "/usr/sbin/haproxy";
    public static final String DNSMASQ = "/usr/sbin/dnsmasq";
    public static final String PROMTOOL = "/usr/bin/promtool";
    public static final String OPENSSL = "/usr/bin/openssl";
    public static final String HTPASSWD = "/usr/bin/htpasswd";
    /** opendkim-tools: an independent DKIM verifier (reads keys from DNS) and key maker. */
    public static final String OPENDKIM_TESTMSG = "/usr/sbin/opendkim-testmsg";
    public static final String OPENDKIM_GENKEY = "/usr/sbin/opendkim-genkey";
    /** util-linux and iproute2: a private network and mount namespace, for a resolver that must be on port 53. */
    public static final String UNSHARE = "/usr/bin/unshare";
    public static final String IP = "/usr/sbin/ip";

    /** A finished command: its exit status and what it printed (stdout and stderr together). */
    public record Run(int exit, String output) {
    }

    /** Runs {@code command} to its end; one that runs past {@code timeout} is killed and fails the test. */
    public static Run run(Duration timeout, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile("tool", ".out");
        try {
            // to a file, not a pipe: a silent tool cannot hold the test past its timeout in a read
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!done) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            String output = Files.readString(out);
            if (!done) {
                fail(command[0] + " did not finish within " + timeout + ": " + output);
            }
            return new Run(p.exitValue(), output);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * One swaks session to 127.0.0.1:{@code port} with these arguments ({@code --from}, {@code --to}, ...),
     * printing only errors ({@code --silent 2}), 30 s per reply, 60 s in all.
     */
    public static Run swaks(int port, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(SWAKS, "--server", "127.0.0.1:" + port, "--silent", "2",
                "--timeout", "30"));
        command.addAll(List.of(args));
        return run(Duration.ofSeconds(60), command.toArray(String[]::new));
    }

    /** Skips (or in CI fails) the calling test unless every path is an executable file. */
    public static void require(String... paths) {
        for (String p : paths) {
            boolean present = Files.isExecutable(Path.of(p));
            if (!present && Boolean.getBoolean("relay.requireTools")) {
                fail("required tool missing: " + p + " (.ci/run installs it from Debian's packages)");
            }
            assumeTrue(present, "skipped: " + p + " is not installed (apt-get install it to run this test)");
        }
    }

    /** As {@link #require}, for a Python module under Debian's /usr/bin/python3 (e.g. aiosmtpd). */
    public static void requirePythonModule(String module) {
        require(PYTHON3);
        boolean present;
        try {
            Process p = new ProcessBuilder(PYTHON3, "-c", "import " + module).redirectErrorStream(true).start();
            present = p.waitFor() == 0;
        } catch (Exception e) {
            present = false;
        }
        if (!present && Boolean.getBoolean("relay.requireTools")) {
            fail("required python module missing: " + module + " (.ci/run installs python3-" + module + ")");
        }
        assumeTrue(present, "skipped: python module " + module + " is not installed");
    }
}
