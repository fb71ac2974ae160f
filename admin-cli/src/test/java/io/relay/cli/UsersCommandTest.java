package io.relay.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code relayctl users} without a node: help, usage errors, and a password never taken from or echoed off the command line. */
class UsersCommandTest {
    @Test
    void helpAndUsage() {
        for (String[] args : new String[][] {{"users", "--help"}, {"users", "add", "--help"}, {"users", "list", "--help"},
                {"users", "passwd", "--help"}, {"users", "remove", "--help"}}) {
            RelayCtlTest.Result r = RelayCtlTest.run(Map.of(), args);
            assertEquals(0, r.code(), String.join(" ", args));
            assertTrue(r.out().startsWith("Usage: relayctl users"), r.out());
        }
        assertTrue(RelayCtlTest.run(Map.of(), "users", "add", "--help").out().contains("--generate"));
        assertEquals(2, RelayCtlTest.run(Map.of(), "users").code());
        assertEquals(2, RelayCtlTest.run(Map.of(), "users", "add").code());
        assertEquals(2, RelayCtlTest.run(Map.of(), "users", "remove").code());
    }

    @Test
    void aPasswordOnTheCommandLineIsAUsageErrorThatDoesNotEchoIt() {
        for (String[] args : new String[][] {{"users", "add", "webapp", "S3cret-on-argv"},
                {"users", "passwd", "webapp", "S3cret-on-argv"}}) {
            RelayCtlTest.Result r = RelayCtlTest.run(Map.of(), args);
            assertEquals(2, r.code(), r.toString());
            assertFalse(r.out().contains("S3cret") || r.err().contains("S3cret"), r.err());
            assertTrue(r.err().contains("never taken from the command line"), r.err());
        }
    }

    @Test
    void generatedPasswordsAreLongAndDiffer() throws Exception {
        UsersCommand.AddUser add = new UsersCommand.AddUser();
        add.generate = true;
        String a = add.password("x");
        String b = add.password("x");
        assertEquals(UsersCommand.GENERATED_LENGTH, a.length());
        assertTrue(a.length() >= 20);
        assertTrue(a.matches("[A-Za-z0-9_-]+"), a);
        assertFalse(a.equals(b));
    }
}
