package io.relay.deploy;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.dockerjava.api.exception.NotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.testcontainers.DockerClientFactory;

/**
 * The container suite needs a Docker daemon and the base image (made offline by
 * deploy/ci/docker-setup.sh). Where either is missing (a laptop without Docker) the suite is
 * skipped with one line saying why; under {@code -Drelay.requireTools=true} (.ci/run) that
 * is a failure instead, so CI cannot pass without having run it.
 */
final class DockerRequirement {
    /** The image every container of the suite starts from: a JRE 17, haproxy and python3-aiosmtpd. */
    static final String BASE_IMAGE = System.getProperty("relay.deploy.baseImage",
            System.getenv().getOrDefault("RELAY_DEPLOY_BASE_IMAGE", "relay-offline-base:bookworm"));

    private DockerRequirement() {
    }

    static void require() {
        String missing = null;
        boolean docker = false;
        // Without a socket or DOCKER_HOST, do not let Testcontainers probe (and log) every strategy.
        if (System.getenv("DOCKER_HOST") != null || Files.exists(Path.of("/var/run/docker.sock"))) {
            try {
                docker = DockerClientFactory.instance().isDockerAvailable();
            } catch (RuntimeException e) {
                docker = false;
            }
        }
        if (!docker) {
            missing = "no Docker daemon reachable (deploy/ci/docker-setup.sh starts one)";
        } else {
            try {
                DockerClientFactory.instance().client().inspectImageCmd(BASE_IMAGE).exec();
            } catch (NotFoundException e) {
                missing = "base image " + BASE_IMAGE + " not present (deploy/ci/docker-setup.sh builds it offline)";
            }
        }
        if (missing != null && Boolean.getBoolean("relay.requireTools")) {
            fail("deploy container suite cannot run: " + missing);
        }
        if (missing != null) {
            // an assumption failing in @BeforeAll leaves no trace in surefire's summary: say it here
            System.out.println("skipped deploy container suite: " + missing);
        }
        assumeTrue(missing == null, "skipped deploy container suite: " + missing);
    }
}
