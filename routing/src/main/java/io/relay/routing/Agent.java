package io.relay.routing;

/**
 * The delivery agent that carries a route, one record per kind with only the data that kind
 * needs: Postfix's smtp, discard, error and retry services, and a file drop.
 *
 * <p>Sealed, and dispatched through {@link Cases}: Java 17 has no exhaustive pattern switch,
 * so a visitor is what makes the compiler name every dispatch that a new kind (lmtp, an HTTP
 * API) has to be taught. Pure data: what an agent does lives with the delivery code.
 */
public sealed interface Agent permits Agent.Smtp, Agent.FileDrop, Agent.Discard, Agent.Bounce, Agent.Defer {

    /** Each agent's kind: the name {@code route ADDRESS} and the admin API print. */
    Cases<Route.Kind> KIND = new Cases<>() {
        @Override
        public Route.Kind smtp(Smtp smtp) {
            return Route.Kind.SMTP;
        }

        @Override
        public Route.Kind file(FileDrop file) {
            return Route.Kind.FILE;
        }

        @Override
        public Route.Kind discard(Discard discard) {
            return Route.Kind.DISCARD;
        }

        @Override
        public Route.Kind bounce(Bounce bounce) {
            return Route.Kind.ERROR;
        }

        @Override
        public Route.Kind defer(Defer defer) {
            return Route.Kind.DEFER;
        }
    };

    /** The kind's name, as {@code route ADDRESS} and the admin API print it. */
    default Route.Kind kind() {
        return match(KIND);
    }

    /** Calls the one method of {@code cases} that handles this kind. */
    <R> R match(Cases<R> cases);

    /** One method per kind; implementing it is the exhaustive switch. */
    interface Cases<R> {
        R smtp(Smtp smtp);

        R file(FileDrop file);

        R discard(Discard discard);

        R bounce(Bounce bounce);

        R defer(Defer defer);
    }

    /** SMTP to a next hop (the route carries the transport's TLS, credentials, fallbacks and limits). */
    record Smtp(NextHop nextHop) implements Agent {
        public Smtp {
            java.util.Objects.requireNonNull(nextHop, "an SMTP route needs a next hop");
        }

        @Override
        public <R> R match(Cases<R> cases) {
            return cases.smtp(this);
        }
    }

    /** One .eml file per message in {@code directory}. */
    record FileDrop(String directory) implements Agent {
        @Override
        public <R> R match(Cases<R> cases) {
            return cases.file(this);
        }
    }

    /** Accepted and dropped; {@code text} (may be empty) is what the mail log says. */
    record Discard(String text) implements Agent {
        @Override
        public <R> R match(Cases<R> cases) {
            return cases.discard(this);
        }
    }

    /** Postfix's error transport: a permanent failure with {@code text}, e.g. "5.1.2 no such domain". */
    record Bounce(String text) implements Agent {
        @Override
        public <R> R match(Cases<R> cases) {
            return cases.bounce(this);
        }
    }

    /** Kept in the queue and retried, e.g. the retry transport or an unknown transport's name. */
    record Defer(String reason) implements Agent {
        @Override
        public <R> R match(Cases<R> cases) {
            return cases.defer(this);
        }
    }
}
