"""The platform glue: one way to start real processes (Prometheus, Alertmanager, our own commands), the configs
that wire them together (regional and global Prometheus, Alertmanager routing), and ``kafka-obs demo``."""
