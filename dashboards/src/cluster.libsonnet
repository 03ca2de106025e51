// 2. Cluster overview: is the cluster whole (brokers, controller, partitions), how busy is it, and what topics does it
// hold. The admin-API series come from the exporter; throughput, latency and idle ratios from broker JMX.
local k = import '../lib/kobs.libsonnet';

function(c)
  local f = (import '../lib/fleet.libsonnet')(c);
  local s = (import '../lib/series.libsonnet')(c);
  local sel = c.fleetSelector;
  local redAbove0 = [['green', null], ['red', 1]];
  local toGroups = f.drill(c.uids.consumerGroups);

  local stat(title, description, expr, steps=[['green', null]]) =
    k.stat(title, description, 'none', [k.target(expr, '{{cluster}}')], steps) + k.withSize(4, 4);

  local health = [
    stat('Brokers online', 'Brokers in the cluster metadata (kafka_brokers), per selected cluster.',
         'sum by (cluster) (kafka_brokers{%s})' % sel),
    stat('Active controllers', 'Brokers reporting themselves as the active controller (JMX ActiveControllerCount); ' +
                               'anything but exactly 1 per cluster is an incident.',
         'sum by (cluster) (kafka_controller_kafkacontroller_activecontrollercount{%s})' % sel,
         [['red', null], ['green', 1], ['red', 2]]),
    stat('Controller', 'Broker id of the active controller, from the metadata (kafka_controller_id).',
         'max by (cluster) (kafka_controller_id{%s})' % sel),
    stat('Offline partitions', 'Partitions without a leader (kafka_cluster_offline_partitions): unavailable.',
         'sum by (cluster) (kafka_cluster_offline_partitions{%s})' % sel, redAbove0),
    stat('Under-replicated partitions', 'Partitions with fewer in-sync replicas than replicas ' +
                                        '(kafka_cluster_under_replicated_partitions).',
         'sum by (cluster) (kafka_cluster_under_replicated_partitions{%s})' % sel, [['green', null], ['orange', 1]]),
    stat('Under min ISR partitions', 'Partitions whose in-sync replicas are fewer than the topic\'s ' +
                                     'min.insync.replicas (kafka_cluster_under_min_isr_partitions): acks=all writes fail.',
         'sum by (cluster) (kafka_cluster_under_min_isr_partitions{%s})' % sel, redAbove0),
  ];

  local throughput = [
    k.timeseries('Bytes in / out', 'Bytes produced (in) and fetched by consumers and followers (out) per second, ' +
                                   'per cluster (broker JMX BytesInPerSec / BytesOutPerSec).', 'Bps', [
      k.target(s.bytesIn.expr(sel, 'cluster'), '{{cluster}} in'),
      k.target(s.bytesOut.expr(sel, 'cluster'), '{{cluster}} out'),
    ]) + k.withSize(12, 8),
    k.timeseries('Messages in per broker', 'Messages produced per second on each broker (JMX MessagesInPerSec): ' +
                                           'a skewed broker shows leadership imbalance.', 'mps', [
      k.target(s.messagesIn.expr(sel, 'cluster, ' + s.jmx.brokerLabel), s.jmx.brokerLegend),
    ]) + k.withSize(12, 8),
  ];

  local brokers = [
    k.timeseries('ISR shrinks / expands', 'In-sync replica set shrinks and expands per second (JMX); a steady ' +
                                          'stream of both is a flapping follower.', 'ops', [
      k.target('sum by (cluster) (rate(kafka_server_replicamanager_isrshrinks_total{%s}[$__rate_interval]))' % sel,
               '{{cluster}} shrinks'),
      k.target('sum by (cluster) (rate(kafka_server_replicamanager_isrexpands_total{%s}[$__rate_interval]))' % sel,
               '{{cluster}} expands'),
    ]) + k.withSize(8, 8),
    k.timeseries('Request latency p99', '99th percentile total time of Produce and consumer Fetch requests, ' +
                                        'worst broker per cluster (JMX RequestMetrics TotalTimeMs).', 'ms', [
      k.target('max by (cluster, request) (kafka_network_requestmetrics_totaltimems{%s, request=~"Produce|FetchConsumer", quantile="0.99"})' % sel,
               '{{cluster}} {{request}}'),
    ]) + k.withSize(8, 8),
    k.timeseries('Request handler idle', 'Idle ratio of each broker\'s request handler threads (JMX ' +
                                         'RequestHandlerAvgIdlePercent, %s); below 30 %% the broker is saturated.' % s.jmx.requestHandlerIdle.reads, 'percentunit', [
      k.target('min by (cluster, %s) (%s{%s})' % [s.jmx.brokerLabel, s.jmx.requestHandlerIdle.name, sel],
               s.jmx.brokerLegend),
    ], min=0) + k.withThresholdLines([['red', null], ['transparent', 0.3]]) + k.withSize(8, 8),
  ];

  local resources = [
    k.timeseries('Disk used per broker', 'Share of each broker\'s log directory volume in use: 1 - usable / total ' +
                                         '(kafka_log_dir_usable_bytes, kafka_log_dir_total_bytes); the disk-pressure ' +
                                         'playbook acts above 80 %.', 'percentunit', [
      k.target('1 - sum by (cluster, broker) (kafka_log_dir_usable_bytes{%s}) / sum by (cluster, broker) (kafka_log_dir_total_bytes{%s})' % [sel, sel],
               '{{cluster}} broker {{broker}}'),
    ], min=0) + k.withThresholdLines([['transparent', null], ['red', 0.8]]) + k.withSize(8, 8),
    k.timeseries('JVM heap used', 'Heap used over heap max per broker (JMX).', 'percentunit', [
      k.target('sum by (cluster, %s) (jvm_memory_used_bytes{%s, area="heap"}) / sum by (cluster, %s) (jvm_memory_max_bytes{%s, area="heap"})' % [s.jmx.brokerLabel, sel, s.jmx.brokerLabel, sel],
               s.jmx.brokerLegend),
    ], min=0) + k.withSize(8, 8),
    k.timeseries('Exporter collection time', 'How long the exporter\'s last collection cycle took per cluster ' +
                                             '(kafka_exporter_collection_duration_seconds); near the interval means ' +
                                             'the cluster is too big or too slow for its priority.', 's', [
      k.target('max by (cluster) (kafka_exporter_collection_duration_seconds{%s})' % sel, '{{cluster}}'),
    ]) + k.withSize(8, 8),
  ];

  // The end-to-end canary (opt-in per cluster, canary.enabled): latency and loss as a client sees them, per broker.
  local canaryQuantile(metric) =
    'histogram_quantile(0.99, sum by (cluster, broker, le) (rate(%s_bucket{%s}[$__rate_interval])))' % [metric, sel];
  local canary = [
    k.timeseries('Canary produce latency p99', '99th percentile time from producing a canary message to its ' +
                                               'acknowledgement (acks=all), per partition leader ' +
                                               '(kafka_canary_produce_latency_seconds). The message-delivery SLO\'s ' +
                                               'thresholds are 100 ms (production) and 200 ms (staging), both bucket ' +
                                               'bounds. Empty for clusters without a canary.', 's', [
      k.target(canaryQuantile('kafka_canary_produce_latency_seconds'), '{{cluster}} broker {{broker}}'),
    ], min=0) + k.withThresholdLines([['transparent', null], ['orange', 0.1], ['red', 0.2]]) + k.withSize(8, 8),
    k.timeseries('Canary round trip p99', '99th percentile time from producing a canary message to consuming it ' +
                                          'back, per partition leader (kafka_canary_roundtrip_latency_seconds).', 's', [
      k.target(canaryQuantile('kafka_canary_roundtrip_latency_seconds'), '{{cluster}} broker {{broker}}'),
    ], min=0) + k.withSize(8, 8),
    k.timeseries('Canary messages lost / failed', 'Canary messages not consumed back within the SLA ' +
                                                  '(kafka_canary_messages_lost_total) and produces that failed ' +
                                                  '(kafka_canary_produce_errors_total), per second and partition ' +
                                                  'leader: any loss on an acknowledged write is an incident.', 'mps', [
      k.target('sum by (cluster, broker) (rate(kafka_canary_messages_lost_total{%s}[$__rate_interval]))' % sel,
               '{{cluster}} broker {{broker}} lost'),
      k.target('sum by (cluster, broker) (rate(kafka_canary_produce_errors_total{%s}[$__rate_interval]))' % sel,
               '{{cluster}} broker {{broker}} failed'),
    ], min=0) + k.withSize(8, 8),
  ];

  local topics = k.table(
    'Topics',
    'Per topic: partitions, retention, bytes on the leaders, messages produced per second (from log-end offsets). ' +
    'Click a topic to see the consumer groups reading it.',
    'none',
    [
      k.target('max by (cluster, topic) (kafka_topic_partitions{%s})' % sel, instant=true),
      k.target('max by (cluster, topic) (kafka_topic_config_retention_ms{%s})' % sel, instant=true),
      k.target('sum by (cluster, topic) (kafka_topic_log_size_bytes{%s})' % sel, instant=true),
      k.target('sum by (cluster, topic) (rate(kafka_topic_partition_current_offset{%s}[$__rate_interval]))' % sel, instant=true),
    ],
    [['cluster', 'Cluster'], ['topic', 'Topic'], ['Value #A', 'Partitions'], ['Value #B', 'Retention'],
     ['Value #C', 'Size'], ['Value #D', 'Messages/s']],
    sortBy=['Size', true],
  ) + k.withOverrides([
    k.override('Topic', { links: [k.link('Consumer groups of ${__data.fields.topic}',
                                          toGroups + '&var-topic=${__data.fields.topic}')] }),
    k.override('Retention', { unit: 'ms' }),
    k.override('Size', { unit: 'decbytes' }),
    k.override('Messages/s', { unit: 'mps' }),
  ]) + k.withSize(24, 10);

  f.dashboard(
    'cluster',
    'Cluster overview',
    'Brokers, controller, partition health, throughput, broker saturation, end-to-end canary and topics of the ' +
    'selected clusters.',
    f.variables,
    [health, throughput, brokers, canary, resources, [topics]],
  )
