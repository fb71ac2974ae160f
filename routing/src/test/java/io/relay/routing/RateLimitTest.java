package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RateLimitTest {
    @ParameterizedTest(name = "[{index}] '{0}'")
    @CsvSource({"14/s,14,PT1S,14/s", "200/m,200,PT1M,200/m", "1000/h,1000,PT1H,1000/h",
            "50000/d,50000,PT24H,50000/d", "' 3 / s ',3,PT1S,3/s"})
    void parsesCountPerPeriod(String text, long permits, String period, String normalised) {
        RateLimit r = RateLimit.parse(text);
        assertEquals(permits, r.permits());
        assertEquals(Duration.parse(period), r.period());
        assertEquals(normalised, r.text());
    }

    @ParameterizedTest(name = "[{index}] '{0}'")
    @ValueSource(strings = {"0/s", "14", "14/x", "/s", "-1/s", "1/1s", "fast", "14/sec", ""})
    void rejectsZeroAndGarbage(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RateLimit.parse(text));
        assertTrue(e.getMessage().contains("'" + text + "'"), e.getMessage());
    }

    @org.junit.jupiter.api.Test
    void zeroSaysWhy() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RateLimit.parse("0/s"))
                .getMessage().contains("at least 1"));
    }
}
