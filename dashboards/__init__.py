"""Grafana dashboards authored in jsonnet and built into committed JSON."""
