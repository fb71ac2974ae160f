package io.relay.routing;

import java.util.Objects;

/**
 * A SASL user name and password for one next hop. {@link #toString()} never shows the
 * password, so a credentials object can be logged or put in an exception safely.
 *
 * @param key the table key that matched (e.g. {@code [email-smtp.us-east-1.amazonaws.com]:587})
 */
public record Credentials(String key, String username, String password) {
    public Credentials {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(username, "username");
        Objects.requireNonNull(password, "password");
    }

    @Override
    public String toString() {
        return "Credentials[key=" + key + ", username=" + username + ", password=*****]";
    }
}
