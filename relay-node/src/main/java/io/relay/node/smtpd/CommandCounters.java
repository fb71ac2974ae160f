package io.relay.node.smtpd;

/**
 * Per-command success/total counters for Postfix's disconnect line
 * ({@code ehlo=1 mail=1 rcpt=0/1 data=1 quit=1 commands=4/5}), in Postfix's order.
 */
final class CommandCounters {
    private static final String[] VERBS = {"helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "rset", "noop",
        "vrfy", "help", "quit", "unknown"};
    private final int[] ok = new int[VERBS.length];
    private final int[] total = new int[VERBS.length];

    void count(String verb, boolean success) {
        for (int i = 0; i < VERBS.length; i++) {
            if (VERBS[i].equals(verb)) {
                total[i]++;
                if (success) {
                    ok[i]++;
                }
                return;
            }
        }
    }

    String summary() {
        StringBuilder sb = new StringBuilder();
        int allOk = 0;
        int all = 0;
        for (int i = 0; i < VERBS.length; i++) {
            if (total[i] == 0) {
                continue;
            }
            sb.append(' ').append(VERBS[i]).append('=');
            append(sb, ok[i], total[i]);
            allOk += ok[i];
            all += total[i];
        }
        sb.append(" commands=");
        append(sb, allOk, all);
        return sb.toString();
    }

    private static void append(StringBuilder sb, int ok, int total) {
        if (ok == total) {
            sb.append(total);
        } else {
            sb.append(ok).append('/').append(total);
        }
    }
}
