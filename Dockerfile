# The offramp worker image. It runs one worker (`offramp standalone`) whose config comes
# from the environment and/or mounted files; docs/deploy.md has compose and Kubernetes
# examples. It holds no connector configs: mount a directory of them on
# /etc/offramp/connectors, or create them over REST (kept in /var/lib/offramp).
#
#   docker build --build-arg EXTRAS=mysql,parquet -t offramp .
#   docker run -p 8083:8083 -e OFFRAMP_WORKER_BOOTSTRAP_SERVERS=kafka:9092 \
#     -e OFFRAMP_WORKER_REST_AUTH_TOKENS=… offramp
#
# tests/integration/test_image.py runs this file's ENTRYPOINT, CMD, ENV and USER outside
# a container and checks what it promises.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY runtime ./runtime
COPY connectors ./connectors
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# Optional dependency groups of the wheel (pyproject.toml): mysql, parquet, embeddings.
ARG EXTRAS=mysql,parquet
RUN useradd --create-home --uid 10001 --user-group offramp \
    && mkdir -p /etc/offramp/connectors /etc/offramp/plugins /var/lib/offramp \
    && chown offramp:offramp /var/lib/offramp
COPY --from=build /wheels /wheels
RUN wheel=$(ls /wheels/offramp-*.whl) \
    && pip install --no-cache-dir --find-links /wheels "${wheel}${EXTRAS:+[$EXTRAS]}" \
    && rm -rf /wheels
COPY configs/container/worker.properties /etc/offramp/worker.properties
# REST listens on every interface; with no credentials set (OFFRAMP_WORKER_REST_AUTH_TOKENS
# or _USERS, from a value or ${directory:/run/secrets:token}) the worker refuses to start.
ENV OFFRAMP_WORKER_REST_HOST=0.0.0.0 \
    OFFRAMP_WORKER_REST_PORT=8083 \
    OFFRAMP_WORKER_BOOTSTRAP_SERVERS=kafka:9092 \
    OFFRAMP_WORKER_CONFIG_STORAGE_DIR=/var/lib/offramp/connectors \
    OFFRAMP_WORKER_PLUGIN_PATH=/etc/offramp/plugins \
    OFFRAMP_URL=http://127.0.0.1:8083 \
    PYTHONUNBUFFERED=1
USER offramp
WORKDIR /var/lib/offramp
VOLUME /var/lib/offramp
EXPOSE 8083
# Liveness only: a Kafka outage is reported by readiness (GET /health), and must not make
# the orchestrator restart every worker.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["offramp", "health", "--live"]
ENTRYPOINT ["offramp"]
CMD ["standalone", "/etc/offramp/worker.properties", "/etc/offramp/connectors"]
