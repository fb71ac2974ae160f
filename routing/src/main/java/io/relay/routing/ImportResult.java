package io.relay.routing;

import java.util.List;
import java.util.Map;

/**
 * What an import produced.
 *
 * @param config     nested maps in our YAML keys (smtpd.*, smtp.*, queue.*), ready for Jackson
 * @param notCarried every setting not carried over, with the reason
 * @param tablesRead the table files read, by path
 */
public record ImportResult(Map<String, Object> config, List<NotCarried> notCarried, List<String> tablesRead) {
    public ImportResult {
        notCarried = List.copyOf(notCarried);
        tablesRead = List.copyOf(tablesRead);
    }
}
