package io.relay.node.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

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
