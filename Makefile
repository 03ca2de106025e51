# kafka-obs — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SYSTEM_TOOLS := prometheus promtool prometheus-alertmanager amtool

.PHONY: help demo test lint format typecheck unit tools venv kafka generate jmx-jar bench clean lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

venv: $(STAMP)  ## create .venv and install kafka-obs with its test extras

tools:  ## install Prometheus, promtool, Alertmanager and amtool (Debian packages) when missing
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages prometheus prometheus-alertmanager (missing:$$missing)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager >/dev/null; \
	else \
	  echo "missing:$$missing"; \
	  echo "install them with: sudo apt-get install prometheus prometheus-alertmanager"; \
	  echo "or put the binaries from the prom/prometheus and prom/alertmanager Docker images on PATH"; \
	  exit 1; \
	fi

KAFKA_POM       := kafka_obs/platform/maven/pom.xml
KAFKA_CLASSPATH := kafka_obs/platform/maven/target/classpath.txt

$(KAFKA_CLASSPATH): $(KAFKA_POM)
	@command -v java >/dev/null || { echo "error: java not found: the real-Kafka tests need Java 17+ (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: mvn not found: the real-Kafka tests resolve Apache Kafka from Maven Central (apt-get install maven)"; exit 1; }
	@java -version 2>&1 | awk -F'"' '/version/ { split($$2, v, "."); if (v[1] < 17) { print "error: Java " $$2 " found, Apache Kafka 4 needs 17+"; exit 1 } }'
	@echo "resolving Apache Kafka from Maven Central ($(KAFKA_POM); cached in ~/.m2 after the first run)"
	mvn -q -B -f $(KAFKA_POM) dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile=$(CURDIR)/$@.tmp
	@mv $@.tmp $@

# prometheus/jmx_exporter's agent, only for the parity test (its own POM: the exporter never needs it)
AGENT_POM  := kafka_obs/platform/maven/jmx-exporter/pom.xml
AGENT_PATH := kafka_obs/platform/maven/target/jmx-exporter-agent.txt

$(AGENT_PATH): $(AGENT_POM) $(KAFKA_CLASSPATH)
	mvn -q -B -f $(AGENT_POM) dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile=$(CURDIR)/$@.tmp
	@mv $@.tmp $@

kafka: $(KAFKA_CLASSPATH) $(AGENT_PATH)  ## resolve Apache Kafka's broker jars and the jmx_exporter agent (Maven) for the real-Kafka tests

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)  ## mypy over the package, its tests and benchmarks
	$(BIN)/mypy kafka_obs tests bench

unit: $(STAMP)  ## only the fast tests (no real Prometheus, Alertmanager, Kafka or e2e)
	$(BIN)/pytest -q -m "not e2e and not realkafka"

test: tools kafka $(STAMP) lint typecheck  ## what CI runs: lint, types, then every test
	$(BIN)/pytest -q

demo: tools $(STAMP)  ## run the platform on the embedded sandbox
	$(BIN)/kafka-obs demo

generate: $(STAMP)  ## regenerate the committed rules and dashboards (commit the result)
	$(BIN)/kafka-obs rules generate
	$(BIN)/kafka-obs dashboards build

jmx-jar: $(STAMP)  ## rebuild the exporter's JMX helper jar from exporter/jmx/java/src, reproducibly (commit the result)
	$(BIN)/python -m kafka_obs.exporter.jmx.jar

bench: tools $(STAMP)  ## benchmarks; results go to bench/results/*.json (never run in CI)
	@ls bench/*.py >/dev/null 2>&1 || { echo "no benchmarks yet"; exit 0; }; \
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lock:  ## re-resolve pyproject.toml's dependency ranges into constraints.txt (then run make test and commit)
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	$(PYTHON) -m venv "$$scratch/venv" && "$$scratch/venv/bin/pip" install --quiet --upgrade pip && \
	"$$scratch/venv/bin/pip" install --quiet '.[test]' && \
	{ sed -n '1,2p' constraints.txt; "$$scratch/venv/bin/pip" freeze --exclude-editable | grep -v '^kafka-obs'; } \
	  > constraints.txt.new && mv constraints.txt.new constraints.txt
	@git diff --stat constraints.txt

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
