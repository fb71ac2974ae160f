package io.relay.routing;

import java.util.Optional;
import java.util.function.Function;

/**
 * The inputs of an import: main.cf and master.cf text, and a reader for the table files
 * they reference (called with the path of the text source, e.g. {@code /etc/postfix/transport}
 * for {@code hash:/etc/postfix/transport}; empty when the file cannot be read).
 *
 * @param mainCf   main.cf text
 * @param masterCf master.cf text, or "" when there is none
 * @param tables   path → file text
 */
public record PostfixFiles(String mainCf, String masterCf, Function<String, Optional<String>> tables) {
    public PostfixFiles {
        mainCf = mainCf == null ? "" : mainCf;
        masterCf = masterCf == null ? "" : masterCf;
        tables = tables == null ? p -> Optional.empty() : tables;
    }
}
