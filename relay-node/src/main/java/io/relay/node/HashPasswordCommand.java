package io.relay.node;

import io.relay.node.auth.PasswordHash;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code relay-node hash-password}: reads one password line from standard input (or, on a
 * terminal, asks for it twice without echo) and prints its Argon2id hash, for the lines of
 * {@code smtpd.sasl-users-file} ({@code NAME:HASH[:SENDERS[:RATES]]}), as {@code doveadm pw}
 * does for Dovecot. The password is never taken from the command line and never printed.
 */
@Command(name = "hash-password", mixinStandardHelpOptions = true,
        description = "Read a password from stdin (one line) and print its Argon2id hash for smtpd.sasl-users-file.")
final class HashPasswordCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    /** Where the password comes from when there is no terminal; tests replace it. */
    InputStream stdin = System.in;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        String password;
        Console console = System.console();
        if (console != null && stdin == System.in) {
            char[] a = console.readPassword("password: ");
            char[] b = console.readPassword("again: ");
            if (a == null || b == null || !Arrays.equals(a, b)) {
                err.println("relay-node: the two passwords differ; nothing printed");
                err.flush();
                return 1;
            }
            password = new String(a);
        } else {
            try {
                password = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8)).readLine();
            } catch (IOException e) {
                password = null;
            }
        }
        if (password == null || password.isEmpty()) {
            err.println("relay-node: no password on stdin; e.g. printf '%s\\n' \"$PW\" | relay-node hash-password");
            err.flush();
            return 1;
        }
        if (password.indexOf('\0') >= 0 || password.indexOf('\r') >= 0) {
            err.println("relay-node: the password holds a NUL or CR; SASL PLAIN cannot carry it");
            err.flush();
            return 1;
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println(PasswordHash.hash(password));
        out.flush();
        return 0;
    }
}
