"""The Kafka wire protocol side of the sandbox: framing, dispatch and one handler module per API family.

Requests are decoded and most responses encoded with kafka-python's generated protocol classes
(``kafka.protocol``), which are built from Apache Kafka's own JSON message schemas. The largest answers
(DescribeGroups, OffsetFetch, ListOffsets) are written as bytes by their handlers (:mod:`.wire`), tested to be
byte-identical to kafka-python's encoding at every version served.
"""
