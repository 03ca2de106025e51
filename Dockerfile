# kafka-obs: the exporter and the webhook in one image. A Java runtime is here for the exporter's JMX helper jar.
FROM python:3.11.10-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY kafka_obs kafka_obs
COPY exporter exporter
COPY sandbox sandbox
COPY rules rules
COPY dashboards dashboards
COPY webhook webhook
COPY prometheus prometheus
COPY alertmanager alertmanager
RUN pip install --no-cache-dir -c constraints.txt . && rm -rf /src

RUN useradd --system --uid 10001 kafka-obs
USER kafka-obs
WORKDIR /home/kafka-obs
ENTRYPOINT ["kafka-obs"]
CMD ["--help"]
