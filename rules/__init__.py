"""The rules bundle: SLO recording and burn-rate alert rules generated from slos.yaml, plus Kafka alerts."""
