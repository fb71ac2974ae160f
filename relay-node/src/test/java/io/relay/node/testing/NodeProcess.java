package io.relay.node.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A relay node in its own JVM, started from the test class path with a YAML config, so
 * a test can {@code kill -9} it (SIGKILL, no shutdown hooks) and start it again on the
 * same spool. stdout and stderr go to files in the node's directory.
 */
public final class NodeProcess implements AutoCloseable {
    private static final Pattern MEMBERS = Pattern.compile("cluster members: (\\d+)");
    private final Path dir;
    private final List<String> args;
    private final int smtpPort;
    private final List<String> jvmOptions;
    private Process process;
    private int starts;

    private NodeProcess(Path dir, List<String> args, int smtpPort, List<String> jvmOptions) {
        this.dir = dir;
        this.args = List.copyOf(args);
        this.smtpPort = smtpPort;
        this.jvmOptions = List.copyOf(jvmOptions);
    }

    /** Writes {@code yaml} to dir/relay.yaml and starts the node; returns once SMTP accepts connections. */
    public static NodeProcess start(Path dir, String yaml, int smtpPort) throws IOException {
        return start(dir, yaml, smtpPort, List.of("-Xmx1g"));
    }

    /** As {@link #start(Path, String, int)} with these JVM options instead of {@code -Xmx1g} (e.g. a smaller heap). */
    public static NodeProcess start(Path dir, String yaml, int smtpPort, List<String> jvmOptions) throws IOException {
        Files.createDirectories(dir);
        Path config = dir.resolve("relay.yaml");
        Files.writeString(config, yaml);
        NodeProcess n = new NodeProcess(dir, List.of("--config", config.toString()), smtpPort, jvmOptions);
        n.restart();
        return n;
    }

    /** Starts {@code Main} with these arguments in {@code dir} (e.g. none: the embedded defaults). */
    public static NodeProcess startWithArgs(Path dir, List<String> args, int smtpPort) throws IOException {
        Files.createDirectories(dir);
        NodeProcess n = new NodeProcess(dir, args, smtpPort, List.of("-Xmx1g"));
        n.restart();
        return n;
    }

    /**
     * Writes {@code yaml} to dir/relay.yaml and starts the node without waiting for it to
     * listen: for a start that is meant to fail ({@link #awaitExit}, {@link #stderr}).
     */
    public static NodeProcess launch(Path dir, String yaml) throws IOException {
        Files.createDirectories(dir);
        Path config = dir.resolve("relay.yaml");
        Files.writeString(config, yaml);
        NodeProcess n = new NodeProcess(dir, List.of("--config", config.toString()), -1, List.of("-Xmx1g"));
        n.spawn();
        return n;
    }

    /** Starts the node again (after {@link #kill9()} or {@link #terminate()}). */
    public void restart() throws IOException {
        restart(defaultStartTimeout());
    }

    /**
     * How long a start may take until SMTP listens: 90 s, or {@code -Drelay.test.nodeStartSeconds=N}
     * for a machine too busy to start a JVM in 90 s.
     */
    public static Duration defaultStartTimeout() {
        return Duration.ofSeconds(Long.getLong("relay.test.nodeStartSeconds", 90));
    }

    /**
     * Starts the node again, waiting up to {@code listenTimeout} (at least {@link #defaultStartTimeout()})
     * for SMTP: longer for a node that replays a big spool before it listens.
     */
    public void restart(Duration listenTimeout) throws IOException {
        spawn();
        try {
            Duration d = defaultStartTimeout();
            awaitListening(listenTimeout.compareTo(d) > 0 ? listenTimeout : d);
        } catch (RuntimeException | IOException e) {
            // never leave a half-started node holding its ports for the next test
            process.destroyForcibly();
            throw e;
        }
    }

    private void spawn() throws IOException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("node still running");
        }
        starts++;
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        // what the jar's manifest grants Hazelcast (Add-Opens), for a class-path start
        for (String open : List.of("java.base/java.lang", "java.base/sun.nio.ch", "java.management/sun.management",
                "jdk.management/com.sun.management.internal")) {
            cmd.add("--add-opens");
            cmd.add(open + "=ALL-UNNAMED");
        }
        cmd.add("--add-exports");
        cmd.add("java.base/jdk.internal.ref=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("io.relay.node.Main");
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("node.out").toFile()));
        pb.redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("node.err").toFile()));
        process = pb.start();
    }

    private void awaitListening(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("node exited with " + process.exitValue() + " (start " + starts
                        + "); stderr tail:\n" + tail(dir.resolve("node.err"), 30));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", smtpPort), 200);
                return;
            } catch (IOException notYet) {
                sleep(100);
            }
        }
        throw new IllegalStateException("node did not listen on " + smtpPort + " within " + timeout
                + "; stderr tail:\n" + tail(dir.resolve("node.err"), 30));
    }

    /** SIGKILL: no shutdown hook, no flush; what the spool holds is all that survives. */
    public void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM without waiting (the node drains; see {@link #awaitExit}). */
    public void signalTerm() {
        process.destroy();
    }

    /** Waits for the process to exit and returns its exit code. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("node did not exit within " + timeout);
        }
        return process.exitValue();
    }

    /** SIGTERM and wait for the exit code. */
    public int terminate(Duration timeout) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
            throw new IllegalStateException("node did not exit within " + timeout + " of SIGTERM");
        }
        return process.exitValue();
    }

    public long pid() {
        return process.pid();
    }

    /** SIGSTOP: the JVM freezes (no heartbeats, no replies) but keeps its sockets, as a hung host would. */
    public void suspend() throws IOException, InterruptedException {
        signal("STOP");
    }

    /** SIGCONT after {@link #suspend()}. */
    public void resume() throws IOException, InterruptedException {
        signal("CONT");
    }

    /** Sends the signal {@code name} ({@code HUP}, {@code INT}, ...) with kill(1), as an operator would. */
    public void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    public boolean alive() {
        return process.isAlive();
    }

    public Path dir() {
        return dir;
    }

    public int smtpPort() {
        return smtpPort;
    }

    /** Waits until stderr has a line containing {@code text}, and returns that line. */
    public String awaitStderr(String text, Duration timeout) throws IOException {
        return awaitLine(dir.resolve("node.err"), "the node's stderr", text, timeout);
    }

    /** Waits until the mail log ({@link #mailLog()}) has a line containing {@code text}, and returns that line. */
    public String awaitMailLog(String text, Duration timeout) throws IOException {
        return awaitLine(dir.resolve("mail.log"), "the mail log", text, timeout);
    }

    private static String awaitLine(Path file, String what, String text, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (String line : read(file).split("\n")) {
                if (line.contains(text)) {
                    return line;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no line with '" + text + "' in " + what + " within " + timeout
                        + "; tail:\n" + tail(file, 30));
            }
            sleep(100);
        }
    }

    public String stderr() throws IOException {
        return read(dir.resolve("node.err"));
    }

    /** The mail log at dir/mail.log, where {@link NodeYaml} puts {@code log.file}; "" while there is none. */
    public String mailLog() throws IOException {
        return read(dir.resolve("mail.log"));
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file) : "";
    }

    /** Copies those of {@code files} (e.g. node.err, node.out, mail.log) that exist in the node's directory to {@code keep}. */
    public void keepLogs(Path keep, String... files) {
        try {
            Files.createDirectories(keep);
            for (String f : files) {
                if (Files.exists(dir.resolve(f))) {
                    Files.copy(dir.resolve(f), keep.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            System.out.println("could not keep the logs of " + dir + ": " + e);
        }
    }

    /** Waits until the last member count each node logged is {@code n}. */
    public static void awaitMembers(List<NodeProcess> which, int n, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<Integer> counts = new ArrayList<>();
            for (NodeProcess node : which) {
                counts.add(lastMemberCount(node));
            }
            if (counts.stream().allMatch(c -> c == n)) {
                System.out.println("member counts: " + counts);
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("member counts " + counts + ", wanted " + n + " on each, within " + timeout);
            }
            Thread.sleep(200);
        }
    }

    private static int lastMemberCount(NodeProcess node) throws IOException {
        Matcher m = MEMBERS.matcher(node.stderr());
        int last = -1;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
        }
        return last;
    }

    public static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no " + file + ")";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
