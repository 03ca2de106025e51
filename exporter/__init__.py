"""The exporter: background collection per cluster into immutable snapshots, served to Prometheus."""
