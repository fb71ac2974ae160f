package io.relay.health;

import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Evaluates a list of checks with a deadline. Each check runs on a small pool of its own, so
 * a check that hangs (a Hazelcast call during a partition) turns into "check timed out"
 * within {@code timeout} instead of holding the health worker, which would also stall
 * /healthz and make an orchestrator restart a node that is merely not ready. The pool is
 * bounded: while {@link #MAX_THREADS} checks hang, further calls report "check busy".
 */
final class CheckRunner implements AutoCloseable {

    static final int MAX_THREADS = 8;

    private final Duration timeout;
    private final ThreadPoolExecutor pool;

    CheckRunner(Duration timeout) {
        this.timeout = timeout;
        this.pool = new ThreadPoolExecutor(0, MAX_THREADS, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                new DefaultThreadFactory("health-check", true));
    }

    HealthReport evaluate(List<ReadinessCheck> checks) {
        List<Future<ReadinessCheck.Result>> futures = new ArrayList<>(checks.size());
        for (ReadinessCheck c : checks) {
            try {
                futures.add(pool.submit(c::check));
            } catch (RejectedExecutionException e) {
                futures.add(null);
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, ReadinessCheck.Result> results = new LinkedHashMap<>();
        boolean allOk = true;
        for (int i = 0; i < checks.size(); i++) {
            ReadinessCheck.Result r = await(futures.get(i), deadline);
            results.put(checks.get(i).name(), r);
            allOk &= r.ok();
        }
        return new HealthReport(allOk, results);
    }

    private ReadinessCheck.Result await(Future<ReadinessCheck.Result> future, long deadline) {
        if (future == null) {
            return ReadinessCheck.Result.failing("check busy");
        }
        try {
            ReadinessCheck.Result r = future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            return r != null ? r : ReadinessCheck.Result.failing("check returned no result");
        } catch (TimeoutException e) {
            future.cancel(true);
            return ReadinessCheck.Result.failing("check timed out after " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            // Only the exception type: a message could carry a host name or worse.
            return ReadinessCheck.Result.failing("check threw " + e.getCause().getClass().getSimpleName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            future.cancel(true);
            return ReadinessCheck.Result.failing("interrupted");
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
