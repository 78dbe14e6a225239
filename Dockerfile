# The offramp worker image: `docker run offramp standalone worker.json connector.json`.
# Worker keys can come from the environment: `-e OFFRAMP_WORKER_BOOTSTRAP_SERVERS=kafka:9092`
# (or Kafka Connect's `CONNECT_BOOTSTRAP_SERVERS`); see docs/configuration.md.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY runtime ./runtime
COPY connectors ./connectors
COPY devstack ./devstack
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 offramp
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY configs /etc/offramp/configs
USER offramp
WORKDIR /home/offramp
EXPOSE 8083
ENTRYPOINT ["offramp"]
CMD ["standalone", "/etc/offramp/configs/worker.json", "/etc/offramp/configs/connectors"]
