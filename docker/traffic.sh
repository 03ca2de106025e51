#!/bin/bash
# Demo traffic for the docker-compose stack: two topics, a steady producer, and a consumer group that keeps up
# with one of them (demo.orders) and not at all with the other (demo.clickstream has no consumer: growing lag).
set -euo pipefail
bin=/opt/kafka/bin
bootstrap=kafka-1:19092,kafka-2:19092,kafka-3:19092
for topic in demo.orders demo.clickstream; do
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists --topic "$topic" \
    --partitions 6 --replication-factor 3
done
"$bin/kafka-producer-perf-test.sh" --topic demo.orders --num-records 1000000000 --record-size 512 \
  --throughput 200 --producer-props bootstrap.servers="$bootstrap" acks=all >/dev/null &
"$bin/kafka-producer-perf-test.sh" --topic demo.clickstream --num-records 1000000000 --record-size 1024 \
  --throughput 100 --producer-props bootstrap.servers="$bootstrap" >/dev/null &
exec "$bin/kafka-console-consumer.sh" --bootstrap-server "$bootstrap" --topic demo.orders \
  --group demo-orders-processor >/dev/null
