package io.relay.node.testing;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A private Postfix for end-to-end tests: Postfix as the web server's MTA, listening on
 * 127.0.0.1:{@link #smtpPort()} and relaying everything to {@code relayhost =
 * [127.0.0.1]:<relayhostPort>} (our node, or smtp-sink standing in for it).
 *
 * <p>Strategy. Config, queue, data directory and maillog all live under the directory the
 * test gives (a JUnit {@code @TempDir}); main.cf and master.cf come from the templates in
 * {@code src/test/resources/postfix/}. {@code postfix -c DIR check} creates the queue
 * directories with Postfix's own ownership rules; then the master runs in the foreground
 * ({@code master -c DIR -d}) as a child of the JVM, in a session of its own so that on
 * SIGTERM it can signal its whole process group. It logs through postlogd to
 * {@code DIR/maillog}, because test machines have no syslog. Neither the default
 * /etc/postfix/main.cf nor the system-wide instance is read or touched: the bench script's
 * Postfix can run beside this one.
 *
 * <p>Stopping is guaranteed by a sweep, not by trust in the master: every process the
 * master starts carries {@code MAIL_CONFIG=<config dir>} in its environment, and
 * {@link #close()} kills whatever still carries it (also from a JVM shutdown hook, should a
 * test never reach close).
 *
 * <p>Settings: {@code relayhostPort}; any main.cf parameter through the overrides of
 * {@link #start(Path, int, Map)} (e.g. {@code smtp_tls_security_level=may}). The master must
 * run as root, as on any Postfix host.
 */
public final class PostfixInstance implements AutoCloseable {
    private static final String POSTFIX = Tools.POSTFIX;
    private static final String POSTCONF = "/usr/sbin/postconf";
    private static final String POSTQUEUE = "/usr/sbin/postqueue";
    private static final String SETSID = "/usr/bin/setsid";
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final int PORT_ATTEMPTS = 3;
    private static final Pattern PARAMETER_NAME = Pattern.compile("[a-z][a-z0-9_]*");

    private final Path configDir;
    private final Path maillog;
    private final Path masterOutput;
    private final int smtpPort;
    private final Process master;
    private final Thread shutdownHook;
    private volatile boolean closed;

    private PostfixInstance(Path dir, int smtpPort, Process master) {
        this.configDir = dir.resolve("etc");
        this.maillog = dir.resolve("maillog");
        this.masterOutput = dir.resolve("master.out");
        this.smtpPort = smtpPort;
        this.master = master;
        this.shutdownHook = new Thread(this::stopQuietly, "postfix-instance-stop");
    }

    /** Starts an instance under {@code dir} that relays all mail to [127.0.0.1]:relayhostPort. */
    public static PostfixInstance start(Path dir, int relayhostPort) {
        return start(dir, relayhostPort, Map.of());
    }

    /**
     * As {@link #start(Path, int)}, with main.cf parameters that replace the template's or
     * add to it (e.g. {@code smtp_tls_security_level=may}).
     */
    public static PostfixInstance start(Path dir, int relayhostPort, Map<String, String> mainOverrides) {
        requireRoot();
        Path root = dir.toAbsolutePath().normalize();
        if (root.toString().chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException("Postfix cannot use a directory with blanks in its name: " + root);
        }
        try {
            prepareDirectory(root);
            RuntimeException lastFailure = null;
            // The free port is only free until someone else takes it: on a busy machine the
            // master can lose the race, and then a new port is tried.
            for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
                int smtpPort = freeLoopbackPort();
                writeConfig(root, smtpPort, relayhostPort, mainOverrides);
                check(root);
                PostfixInstance instance = launch(root, smtpPort);
                try {
                    instance.awaitReady();
                    Runtime.getRuntime().addShutdownHook(instance.shutdownHook);
                    return instance;
                } catch (RuntimeException e) {
                    instance.stopQuietly();
                    lastFailure = e;
                    if (!instance.maillogText().contains("Address already in use")) {
                        throw e;
                    }
                }
            }
            throw lastFailure;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare Postfix under " + root, e);
        }
    }

    /** The port of its SMTP listener on 127.0.0.1. */
    public int smtpPort() {
        return smtpPort;
    }

    /** Its maillog file (written by postlogd; absent until the first line). */
    public Path maillog() {
        return maillog;
    }

    /** Its config directory ({@code -c} for postconf, postqueue, postsuper). */
    public Path configDir() {
        return configDir;
    }

    /** Lines of its maillog so far. */
    public List<String> maillogLines() {
        try {
            return Files.exists(maillog) ? Files.readAllLines(maillog, StandardCharsets.UTF_8) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + maillog, e);
        }
    }

    /** Recipients delivered so far: the {@code status=sent} lines of its maillog. */
    public int sentCount() {
        return (int) maillogLines().stream().filter(l -> l.contains(" status=sent ")).count();
    }

    /** Waits until at least {@code n} recipients were delivered; fails with the log tail if not in time. */
    public void awaitSent(int n, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int sent;
        while ((sent = sentCount()) < n) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("Postfix delivered " + sent + " of " + n + " within " + timeout
                        + "; its maillog ends with:\n" + tail(20));
            }
            pause(50);
        }
    }

    /** Messages in its queue (incoming, active, deferred, hold), as {@code postqueue -j} lists them. */
    public int queueCount() {
        String out = run(List.of(POSTQUEUE, "-c", configDir.toString(), "-j"));
        return (int) out.lines().filter(l -> l.startsWith("{")).count();
    }

    /** Asks Postfix to retry deferred mail now ({@code postqueue -f}), e.g. after the node came up. */
    public void flushQueue() {
        run(List.of(POSTQUEUE, "-c", configDir.toString(), "-f"));
    }

    /** Process ids of every process of this instance now running (master and its daemons). */
    public List<Long> processIds() {
        return instanceProcesses().stream().map(ProcessHandle::pid).toList();
    }

    /**
     * Stops the instance: SIGTERM to the master (which terminates its process group), then
     * SIGKILL to any process of the instance still running. Fails if one survives.
     * Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            stop();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException | IllegalArgumentException e) {
                // the JVM is already shutting down, or start() failed before registering it
            }
        }
    }

    private void stop() {
        closed = true;
        master.destroy();
        waitFor(master, Duration.ofSeconds(5));
        long deadline = System.nanoTime() + STOP_TIMEOUT.toNanos();
        long killAfter = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        List<ProcessHandle> left = instanceProcesses();
        while (!left.isEmpty()) {
            if (System.nanoTime() - killAfter > 0) {
                // an smtpd or cleanup that missed the SIGTERM would wait out max_idle (100s)
                left.forEach(ProcessHandle::destroyForcibly);
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("Postfix processes of " + configDir + " survived SIGKILL: "
                        + left.stream().map(ProcessHandle::pid).toList());
            }
            pause(50);
            left = instanceProcesses();
        }
    }

    private void stopQuietly() {
        try {
            stop();
        } catch (RuntimeException e) {
            System.err.println("PostfixInstance: " + e.getMessage());
        }
    }

    private List<ProcessHandle> instanceProcesses() {
        byte[] marker = ("MAIL_CONFIG=" + configDir).getBytes(StandardCharsets.UTF_8);
        List<ProcessHandle> found = new ArrayList<>();
        ProcessHandle.allProcesses().filter(ProcessHandle::isAlive).forEach(p -> {
            if (p.pid() == master.pid() || hasEnvironmentEntry(p.pid(), marker)) {
                found.add(p);
            }
        });
        return found;
    }

    private static boolean hasEnvironmentEntry(long pid, byte[] entry) {
        byte[] env;
        try {
            env = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
        } catch (IOException | SecurityException e) {
            return false; // gone meanwhile, or a kernel thread
        }
        int start = 0;
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == 0) {
                if (i - start == entry.length && Arrays.equals(env, start, i, entry, 0, entry.length)) {
                    return true;
                }
                start = i + 1;
            }
        }
        return false;
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (true) {
            if (!master.isAlive()) {
                throw new IllegalStateException("Postfix master exited with " + master.exitValue()
                        + " before listening on 127.0.0.1:" + smtpPort + "; " + diagnostics());
            }
            if (greets()) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("Postfix did not greet on 127.0.0.1:" + smtpPort + " within "
                        + READY_TIMEOUT + "; " + diagnostics());
            }
            pause(100);
        }
    }

    /** True when an smtpd answers 220: the master listens and its daemons can start. */
    private boolean greets() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), smtpPort), 1000);
            s.setSoTimeout(5000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            String banner = in.readLine();
            OutputStream out = s.getOutputStream();
            out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return banner != null && banner.startsWith("220");
        } catch (IOException e) {
            return false;
        }
    }

    private String diagnostics() {
        String masterOut;
        try {
            masterOut = Files.exists(masterOutput) ? Files.readString(masterOutput) : "";
        } catch (IOException e) {
            masterOut = "(unreadable: " + e.getMessage() + ")";
        }
        return "master output:\n" + masterOut + "\nmaillog ends with:\n" + tail(20);
    }

    private String tail(int lines) {
        List<String> all = maillogLines();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private String maillogText() {
        return String.join("\n", maillogLines());
    }

    private static void requireRoot() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            if (!Integer.valueOf(0).equals(uid)) {
                throw new IllegalStateException("the Postfix master must run as root (uid 0), this JVM runs as uid " + uid);
            }
        } catch (IOException | UnsupportedOperationException e) {
            throw new IllegalStateException("cannot tell whether this JVM runs as root: " + e.getMessage(), e);
        }
    }

    private static void prepareDirectory(Path root) throws IOException {
        Files.createDirectories(root);
        // Postfix's daemons run as user postfix and must reach the queue and data
        // directories; @TempDir makes its directory 0700.
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        // A @TempDir one level up is 0700 too. Inside the temp directory, search permission
        // (o+x, not o+r) is granted; elsewhere a closed directory is the caller's to open.
        Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().normalize();
        for (Path p = root.getParent(); p != null; p = p.getParent()) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
            if (perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                continue;
            }
            if (!p.startsWith(tmp) || p.equals(tmp)) {
                throw new IllegalStateException("user postfix cannot reach " + root + ": " + p
                        + " is not searchable by others (chmod o+x it, or start Postfix elsewhere)");
            }
            perms = EnumSet.copyOf(perms);
            perms.add(PosixFilePermission.OTHERS_EXECUTE);
            Files.setPosixFilePermissions(p, perms);
        }
        Files.createDirectories(root.resolve("etc"));
        Files.createDirectories(root.resolve("spool"));
        // The master takes its lock in data_directory as user postfix, and stops without a
        // log line when the directory is root's.
        Path data = Files.createDirectories(root.resolve("data"));
        Files.setOwner(data, data.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postfix"));
    }

    private static void writeConfig(Path root, int smtpPort, int relayhostPort, Map<String, String> overrides)
            throws IOException {
        overrides.forEach((name, value) -> {
            if (!PARAMETER_NAME.matcher(name).matches() || value.contains("\n") || value.contains("\r")) {
                throw new IllegalArgumentException("not a main.cf parameter line: " + name + " = " + value);
            }
        });
        StringBuilder main = new StringBuilder();
        // Postfix takes the last of two lines for one name but warns in every daemon's log:
        // the template's line for an overridden name is left out instead.
        template("main.cf")
                .replace("@DIR@", root.toString())
                .replace("@RELAYHOST_PORT@", Integer.toString(relayhostPort))
                .lines()
                .filter(line -> !overrides.containsKey(parameterName(line)))
                .forEach(line -> main.append(line).append('\n'));
        if (!overrides.isEmpty()) {
            main.append("\n# overrides given by the test\n");
        }
        overrides.forEach((name, value) -> main.append(name).append(" = ").append(value).append('\n'));
        Files.writeString(root.resolve("etc/main.cf"), main);
        Files.writeString(root.resolve("etc/master.cf"),
                template("master.cf").replace("@SMTP_PORT@", Integer.toString(smtpPort)));
    }

    /** The name a main.cf line sets, or "" for comments, blanks and continuation lines. */
    private static String parameterName(String line) {
        int eq = line.indexOf('=');
        if (eq < 0 || line.isEmpty() || Character.isWhitespace(line.charAt(0)) || line.startsWith("#")) {
            return "";
        }
        return line.substring(0, eq).trim();
    }

    private static String template(String name) throws IOException {
        try (InputStream in = PostfixInstance.class.getResourceAsStream("/postfix/" + name)) {
            if (in == null) {
                throw new IOException("test resource postfix/" + name + " is missing");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** {@code postfix check} also creates the missing queue directories with the right owners. */
    private static void check(Path root) {
        run(List.of(POSTFIX, "-c", root.resolve("etc").toString(), "check"));
    }

    private static PostfixInstance launch(Path root, int smtpPort) throws IOException {
        Path configDir = root.resolve("etc");
        String daemonDirectory = run(List.of(POSTCONF, "-c", configDir.toString(), "-h", "daemon_directory")).trim();
        // setsid: the master signals its process group on SIGTERM, and must not hit the JVM's
        ProcessBuilder pb = new ProcessBuilder(SETSID, "-w", daemonDirectory + "/master", "-c", configDir.toString(), "-d");
        pb.redirectErrorStream(true);
        pb.redirectOutput(root.resolve("master.out").toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        environment(pb, configDir);
        return new PostfixInstance(root, smtpPort, pb.start());
    }

    /** A clean environment: MAIL_CONFIG also marks every process of this instance for the sweep. */
    private static void environment(ProcessBuilder pb, Path configDir) {
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        env.put("LANG", "C");
        env.put("MAIL_CONFIG", configDir.toString());
    }

    private static String run(List<String> command) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Path configDir = Path.of(command.get(command.indexOf("-c") + 1));
        environment(pb, configDir);
        Process p = null;
        try {
            Path output = Files.createTempFile("postfix-cmd", ".out");
            try {
                pb.redirectOutput(output.toFile());
                p = pb.start();
                if (!p.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                    throw new IllegalStateException(String.join(" ", command) + " did not finish within " + COMMAND_TIMEOUT);
                }
                String out = Files.readString(output);
                if (p.exitValue() != 0) {
                    throw new IllegalStateException(String.join(" ", command) + " exited with " + p.exitValue() + ":\n" + out);
                }
                return out;
            } finally {
                Files.deleteIfExists(output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + String.join(" ", command), e);
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
            }
        }
    }

    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void waitFor(Process p, Duration timeout) {
        try {
            p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
