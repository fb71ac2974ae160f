# The compose demo's test upstream: aiosmtpd keeping every message (deploy/docker/upstream.py).
# Build context: deploy/docker.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN if ! python3 -c 'import aiosmtpd' 2>/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3-aiosmtpd && rm -rf /var/lib/apt/lists/*; \
    fi
COPY upstream.py /usr/local/bin/upstream.py
EXPOSE 25
VOLUME ["/var/mail/upstream"]
CMD ["/usr/bin/python3", "/usr/local/bin/upstream.py", "/var/mail/upstream", "25"]
