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

  // What tells one broker's JMX series from another's, and the names that differ between the two JMX sources
  // (docs/metrics.md, "Differences from prometheus/jmx_exporter"). Admin-API series (log dirs, canary) always carry
  // the exporter's `broker`.
  jmx: {
    assert std.member(['exporter', 'agent'], c.jmxSource) : "jmxSource must be 'exporter' or 'agent', got " + c.jmxSource,
    local agent = c.jmxSource == 'agent',
    brokerLabel: if agent then 'instance' else 'broker',
    brokerLegend: if agent then '{{cluster}} {{instance}}' else '{{cluster}} broker {{broker}}',
    // The request handler pool's idle ratio: our one-minute rate, or the agent's rule's MeanRate (since start-up).
    requestHandlerIdle: if agent then {
      name: 'kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent',
      reads: 'the agent\'s MeanRate: the average since the broker started, slow to show a saturation',
    } else {
      name: 'kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent',
      reads: 'one-minute rate',
    },
  },

  // Per-cluster recording rules of the rules bundle (rules/generated/kafka-aggregations.yml, docs/rules.md). They
  // carry region, environment and cluster, so the executive overview can filter them with the fleet variables and
  // its totals equal the bundle's region: and global: roll-ups when "All" is selected.
  local recorded(name) = {
    name: name,
    expr(sel, by='region, environment, cluster'):: 'sum by (%s) (%s{%s})' % [by, name, sel],
  },
  clusterMessagesIn: recorded('cluster:kafka_messages_in:rate5m'),
  clusterBytesIn: recorded('cluster:kafka_bytes_in:rate5m'),
  storageBytes: recorded('cluster:kafka_log_dir_size_bytes:sum'),
  costPerDay: recorded('cluster:kafka_cost_dollars:per_day'),
  // 1 per cluster reachable and without under-replicated partitions, else 0; the fleet score is their mean × 100.
  healthScore: {
    name: 'cluster:kafka_health_score:ratio',
    expr(sel):: '100 * avg(%s{%s})' % [self.name, sel],
  },

  // Remediations that acted: dry runs, refusals and cancellations never touched anything.
  remediationSuccess(window)::
    local m = 'kafka_obs_webhook_remediations_total';
    'sum(increase(%s{result="succeeded"}[%s])) / sum(increase(%s{result=~"succeeded|failed|rolled_back|interrupted"}[%s]))'
    % [m, window, m, window],

  // Time to exhaustion of the groups that burn, and NaN ("not burning", through notBurningMapping) for those whose
  // current burn rate is 0: the rules record no time to exhaustion then, which would leave a blank cell (or, in a
  // query returning +Inf, a meaningless huge number).
  timeToExhaustion(by, sel)::
    'max by (%s) (slo:time_to_exhaustion:seconds{%s})\nor\nNaN * max by (%s) (slo:current_burn_rate:ratio{%s} == 0)'
    % [by, sel, by, sel],
  notBurningMapping:: {
    type: 'special',
    options: { match: 'nan', result: { text: 'not burning', color: 'green', index: 3 } },
  },

  statusMappings:: [{
    type: 'value',
    options: {
      '0': { text: 'healthy', color: 'green', index: 0 },
      '1': { text: 'warning', color: 'orange', index: 1 },
      '2': { text: 'critical', color: 'red', index: 2 },
    },
  }],
}
