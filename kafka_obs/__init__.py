"""kafka-obs: observability for fleets of Apache Kafka clusters.

One distribution, one import namespace. The components live in their own folders of the repository and are
mapped under this package at install time (``kafka_obs.exporter`` comes from ``exporter/`` and so on).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kafka-obs")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
