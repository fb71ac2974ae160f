package io.relay.node.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The {@code smtp.breaker} block: defaults, binding, and range errors that name the key. */
class BreakerConfigTest {
    @Test
    void defaultsAndBinding() {
        RelayConfig d = ConfigLoader.parse("", "empty.yaml");
        assertEquals(5, d.smtp.breaker.failureThreshold);
        assertEquals(Duration.ofSeconds(30), d.smtp.breaker.openTime);
        assertEquals(2, d.smtp.breaker.connectRetries);

        RelayConfig c = ConfigLoader.parse("""
                smtp:
                  breaker:
                    failure-threshold: 8
                    open-time: 2m
                    connect-retries: 0
                """, "b.yaml");
        assertEquals(8, c.smtp.breaker.failureThreshold);
        assertEquals(Duration.ofMinutes(2), c.smtp.breaker.openTime);
        assertEquals(0, c.smtp.breaker.connectRetries);
    }

    @Test
    void outOfRangeValuesNameTheKey() {
        assertEquals("b.yaml: smtp.breaker.failure-threshold: must be at least 1", assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("smtp:\n  breaker:\n    failure-threshold: 0\n", "b.yaml")).getMessage());
        assertEquals("b.yaml: smtp.breaker.open-time: must be positive", assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("smtp:\n  breaker:\n    open-time: 0s\n", "b.yaml")).getMessage());
        assertEquals("b.yaml: smtp.breaker.connect-retries: must be 0 to 5", assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("smtp:\n  breaker:\n    connect-retries: 9\n", "b.yaml")).getMessage());
    }
}
