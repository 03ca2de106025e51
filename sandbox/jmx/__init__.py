"""Broker JMX for the sandbox: one small JVM that serves Kafka's MBeans for every simulated broker.

The simulation computes each broker's numbers (:class:`BrokerJmxState`), :func:`kafka_beans` turns them into the
MBeans a real broker registers, and :class:`JmxResponder` serves them on one JMX/RMI port per broker. Without a
JDK, :class:`JavaUnavailable` says so and the sandbox runs without JMX.
"""

from kafka_obs.sandbox.jmx.beans import Bean, BrokerJmxState, RequestLatency, TopicTraffic, kafka_beans, object_name
from kafka_obs.sandbox.jmx.build import JavaUnavailable
from kafka_obs.sandbox.jmx.feed import SandboxJmx, broker_state
from kafka_obs.sandbox.jmx.responder import JmxResponder, ResponderError

__all__ = [
    "Bean",
    "BrokerJmxState",
    "JavaUnavailable",
    "JmxResponder",
    "RequestLatency",
    "ResponderError",
    "SandboxJmx",
    "TopicTraffic",
    "broker_state",
    "kafka_beans",
    "object_name",
]
