// Which series each dashboard concept reads. One place, so aligning with the rules bundle's recorded names is a
// one-file change. Each entry has `name` (quoted in panel descriptions and docs) and `expr(selector, ...)`.
//
// `by` is the label list to keep; recorded per-cluster series already carry region, environment and cluster.
function(c) {
  local rate(metric, sel, by) =
    'sum by (%s) (rate(%s{%s, topic=""}[$__rate_interval]))' % [by, metric, sel],

  // Broker JMX all-topics counters (no `topic` label) — exact at every zoom level, unlike a 5m recording.
  messagesIn: {
    name: 'kafka_server_brokertopicmetrics_messagesin_total',
    expr(sel, by):: rate(self.name, sel, by),
  },
  bytesIn: {
    name: 'kafka_server_brokertopicmetrics_bytesin_total',
    expr(sel, by):: rate(self.name, sel, by),
  },
  bytesOut: {
    name: 'kafka_server_brokertopicmetrics_bytesout_total',
    expr(sel, by):: rate(self.name, sel, by),
  },

  // Health score over the selected clusters: reachable and without under-replicated partitions, 0-100.
  healthScore: {
    name: 'kafka_cluster_up and kafka_cluster_under_replicated_partitions',
    expr(sel):: |||
      100 * (
        count((kafka_cluster_up{%(sel)s} == 1) and on (cluster) (kafka_cluster_under_replicated_partitions{%(sel)s} == 0))
        or vector(0)
      ) / count(kafka_cluster_up{%(sel)s})
    ||| % { sel: sel },
  },

  storageBytes: {
    name: 'kafka_log_dir_size_bytes',
    expr(sel):: 'sum by (cluster) (kafka_log_dir_size_bytes{%s})' % sel,
  },

  costPerDay: {
    name: 'cluster:kafka_cost_dollars:per_day',
    expr(sel):: 'sum by (cluster) (cluster:kafka_cost_dollars:per_day{%s})' % sel,
  },

  // Remediations that acted: dry runs, refusals and cancellations never touched anything.
  remediationSuccess(window)::
    local m = 'kafka_obs_webhook_remediations_total';
    'sum(increase(%s{result="succeeded"}[%s])) / sum(increase(%s{result=~"succeeded|failed|rolled_back|interrupted"}[%s]))'
    % [m, window, m, window],

  statusMappings:: [{
    type: 'value',
    options: {
      '0': { text: 'healthy', color: 'green', index: 0 },
      '1': { text: 'warning', color: 'orange', index: 1 },
      '2': { text: 'critical', color: 'red', index: 2 },
    },
  }],
}
