"""Broker JMX metrics: one read per broker per cycle through one long-lived JVM helper, as a plug-in collector.

:class:`JmxCollector` is what the exporter's per-cluster cycle runs; :mod:`.catalogue` says which MBeans become
which series; :mod:`.helper` drives the JVM helper (``java/``, built by :mod:`.jar`) that keeps a connection per
broker; :mod:`.series` turns its rows into families.
"""

from kafka_obs.exporter.jmx.collector import JMX_SCRAPE_DURATION, JMX_UP, JmxCollector, jmx_collectors
from kafka_obs.exporter.jmx.helper import JmxHelper
from kafka_obs.exporter.jmx.query import JmxClient, JmxError, Query, Row
from kafka_obs.exporter.jmx.series import SeriesBuilder

__all__ = [
    "JMX_SCRAPE_DURATION",
    "JMX_UP",
    "JmxClient",
    "JmxCollector",
    "JmxError",
    "JmxHelper",
    "Query",
    "Row",
    "SeriesBuilder",
    "jmx_collectors",
]
