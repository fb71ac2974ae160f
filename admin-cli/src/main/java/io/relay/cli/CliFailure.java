package io.relay.cli;

/** A failure told to the operator as one line: what went wrong and what to do. Exit code 1. */
final class CliFailure extends RuntimeException {
    CliFailure(String message) {
        super(message, null, false, false);
    }
}
