"""Configuration shared by every component: YAML loading with field-path errors, secrets, the cluster model."""

from kafka_obs.config.loader import ConfigError, ConfigIssue

__all__ = ["ConfigError", "ConfigIssue"]
