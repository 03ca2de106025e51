"""The Kafka wire protocol side of the sandbox: framing, dispatch and one handler module per API family.

Every request and response is decoded and encoded with kafka-python's generated protocol classes
(``kafka.protocol``), which are built from Apache Kafka's own JSON message schemas.
"""
