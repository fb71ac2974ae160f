package io.relay.node.testing;

import io.relay.node.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import picocli.CommandLine;

/**
 * The Postfix configurations of routing's test fixtures (one directory each: main.cf,
 * master.cf, the maps), copied where a test may change them, and {@code relay-node
 * import-postfix} run over a copy in this JVM, as an operator runs it.
 */
public final class PostfixFixture {
    /** routing/src/test/resources/fixtures, from relay-node's directory (where the tests run). */
    public static final Path FIXTURES = Path.of("../routing/src/test/resources/fixtures");

    /** What import-postfix answered: exit code and what it wrote to stderr. */
    public record Imported(int code, String stderr) {
    }

    private PostfixFixture() {
    }

    /** Copies fixture {@code name} into {@code to} (created), each file mode 600 as Postfix keeps its maps. */
    public static void copy(String name, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(FIXTURES.resolve(name))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path t = to.resolve(f.getFileName());
                Files.copy(f, t);
                Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-------"));
            }
        }
    }

    /** Runs {@code import-postfix postfixDir --out out}, its stderr captured. */
    public static Imported importPostfix(Path postfixDir, Path out) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream oldErr = System.err;
        int code;
        try {
            System.setErr(new PrintStream(err, true));
            code = new CommandLine(new Main()).execute("import-postfix", postfixDir.toString(), "--out", out.toString());
        } finally {
            System.setErr(oldErr);
        }
        return new Imported(code, err.toString());
    }
}
