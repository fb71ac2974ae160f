package io.relay.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * A relayctl command that groups the subcommands of one admin API class ({@code networks},
 * {@code queue}, ...): it runs none itself, and without one it is a usage error (exit code 2).
 */
abstract class AdminGroup implements Runnable {
    @ParentCommand
    RelayCtl root;
    @Spec
    CommandSpec self;

    private final String subcommands;

    /** @param subcommands how the usage error names the subcommands, e.g. "list, set or remove" */
    AdminGroup(String subcommands) {
        this.subcommands = subcommands;
    }

    @Override
    public void run() {
        throw new ParameterException(self.commandLine(), "missing subcommand: " + subcommands);
    }
}
