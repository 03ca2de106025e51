"""Broker JMX metrics through jmxquery: one batch per broker per cycle, as a plug-in collector of the exporter.

:class:`JmxCollector` is what the exporter's per-cluster cycle runs; :mod:`.catalogue` says which MBeans become
which series; :mod:`.query` runs jmxquery's bundled Java client safely; :mod:`.series` parses its rows.
"""

from kafka_obs.exporter.jmx.collector import JMX_SCRAPE_DURATION, JMX_UP, JmxCollector, jmx_collectors
from kafka_obs.exporter.jmx.query import JmxError, JmxQueryClient
from kafka_obs.exporter.jmx.series import SeriesBuilder

__all__ = [
    "JMX_SCRAPE_DURATION",
    "JMX_UP",
    "JmxCollector",
    "JmxError",
    "JmxQueryClient",
    "SeriesBuilder",
    "jmx_collectors",
]
