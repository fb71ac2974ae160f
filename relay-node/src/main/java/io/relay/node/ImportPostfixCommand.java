package io.relay.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import io.relay.routing.ImportResult;
import io.relay.routing.NotCarried;
import io.relay.routing.PostfixFiles;
import io.relay.routing.PostfixImport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code relay-node import-postfix DIR --out FILE}: reads a Postfix configuration
 * directory (main.cf, master.cf and the text sources of the tables they name), writes
 * our YAML, and lists on stderr every setting it did not carry over, with the reason.
 * A table named by a path (hash:/etc/postfix/transport) is read from DIR under its file
 * name first, then from the path as written, so a copied directory imports the same way.
 */
@Command(name = "import-postfix", mixinStandardHelpOptions = true,
        description = "Convert a Postfix relay configuration (main.cf, master.cf, tables) to relay YAML.")
final class ImportPostfixCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", description = "Postfix configuration directory (e.g. /etc/postfix)")
    Path dir;

    @Option(names = "--out", paramLabel = "FILE", description = "write the YAML here (default: stdout)")
    Path out;

    @Override
    public Integer call() throws IOException {
        Path mainCf = dir.resolve("main.cf");
        if (!Files.isReadable(mainCf)) {
            System.err.println("import-postfix: " + mainCf + ": cannot read (is " + dir + " a Postfix configuration directory?)");
            return 1;
        }
        Path masterCf = dir.resolve("master.cf");
        ImportResult result = PostfixImport.run(new PostfixFiles(Files.readString(mainCf),
                Files.isReadable(masterCf) ? Files.readString(masterCf) : "", this::readTable));
        String yaml = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)).writeValueAsString(result.config());
        String header = "# imported from " + dir.toAbsolutePath() + " by relay-node import-postfix\n";
        if (out == null) {
            System.out.print(header + yaml);
        } else {
            Files.writeString(out, header + yaml);
        }
        for (String t : result.tablesRead()) {
            System.err.println("read table: " + t);
        }
        for (NotCarried n : result.notCarried()) {
            System.err.println("not carried over: " + n.setting() + (n.value() == null || n.value().isEmpty() ? "" : " = " + n.value())
                    + " (" + n.reason() + ")");
        }
        return 0;
    }

    private Optional<String> readTable(String path) {
        for (Path p : new Path[] {dir.resolve(Path.of(path).getFileName().toString()), Path.of(path)}) {
            if (Files.isReadable(p)) {
                try {
                    return Optional.of(Files.readString(p));
                } catch (IOException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }
}
