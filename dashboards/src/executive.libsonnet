// 1. Executive overview: the seed's five widgets — health score, multi-cluster overview, SLO status, self-healing
// activity and cost — each drilling down into the dashboard that explains it.
local k = import '../lib/kobs.libsonnet';
local series = import '../lib/series.libsonnet';

function(c)
  local f = (import '../lib/fleet.libsonnet')(c);
  local s = series(c);
  local sel = c.fleetSelector;
  local sloSel = 'environment=~"$environment", cluster=~"$cluster"';
  local toCluster = f.drill(c.uids.cluster, { cluster: '${__data.fields.cluster}' });
  local toSlo = f.drill(c.uids.slo, { cluster: '${__data.fields.cluster}', environment: '${__data.fields.environment}' }) +
                '&var-slo=${__data.fields.slo}';

  local health = k.gauge(
    'Platform health score',
    ('Share of the selected clusters that are reachable and have no under-replicated partitions, 0-100. ' +
     'Read from %s; drops as soon as a broker stops and its partitions lose replicas.') % s.healthScore.name,
    'percent',
    [k.target(s.healthScore.expr(sel), 'health')],
    [['red', null], ['orange', 80], ['green', 100]],
  ) + k.withSize(4, 5);

  local totals = [
    k.stat('Active brokers', 'Brokers in the metadata of the selected clusters (kafka_brokers), summed.', 'none',
           [k.target('sum(kafka_brokers{%s})' % sel)]) + k.withSize(4, 5),
    k.stat('Clusters unreachable', 'Selected clusters whose last collection cycle failed (kafka_cluster_up == 0).',
           'none', [k.target('count(kafka_cluster_up{%s} == 0) or vector(0)' % sel)],
           [['green', null], ['red', 1]]) + k.withSize(4, 5),
    k.stat('Messages in', 'Messages produced per second into the selected clusters, internal topics excluded (%s).' % s.clusterMessagesIn.name,
           'mps', [k.target('sum(%s)' % s.clusterMessagesIn.expr(sel))]) + k.withSize(4, 5),
    k.stat('Bytes in', 'Bytes produced per second into the selected clusters (%s, from broker JMX BytesInPerSec).' % s.clusterBytesIn.name,
           'Bps', [k.target('sum(%s)' % s.clusterBytesIn.expr(sel))]) + k.withSize(4, 5),
    k.stat('Estimated cost', ('Estimated cost per day of the selected clusters: storage at its $/GB-month price ' +
                              'plus ingress at its $/GB price, both from the rules configuration (%s).') % s.costPerDay.name,
           'currencyUSD', [k.target('sum(%s)' % s.costPerDay.expr(sel, 'cluster'))], decimals=2) + k.withSize(4, 5),
  ];
  local overview = k.table(
    'Clusters by region',
    ('One row per cluster, sorted by region: messages and bytes produced per second (%s, %s), active brokers ' +
     '(kafka_brokers), reachability (kafka_cluster_up). Click a cluster to open its overview (the time range and ' +
     'variables are kept).') % [s.clusterMessagesIn.name, s.clusterBytesIn.name],
    'none',
    [
      k.target(s.clusterMessagesIn.expr(sel), instant=true),
      k.target(s.clusterBytesIn.expr(sel), instant=true),
      k.target('sum by (%s) (kafka_brokers{%s})' % ['region, environment, cluster', sel], instant=true),
      k.target('max by (%s) (kafka_cluster_up{%s})' % ['region, environment, cluster', sel], instant=true),
    ],
    [['region', 'Region'], ['environment', 'Environment'], ['cluster', 'Cluster'], ['Value #A', 'Messages/s'],
     ['Value #B', 'Bytes in/s'], ['Value #C', 'Active brokers'], ['Value #D', 'Reachable']],
    sortBy=['Region', false],
  ) + k.withOverrides([
    k.override('Cluster', { links: [k.link('Cluster overview of ${__data.fields.cluster}', toCluster)] }),
    k.override('Messages/s', { unit: 'mps' }),
    k.override('Bytes in/s', { unit: 'Bps' }),
    k.colouredColumn('Reachable', 'none', mappings=k.valueMappings([['0', 'down', 'red'], ['1', 'up', 'green']])),
  ]) + k.withSize(14, 9);

  local byRegion = k.timeseries(
    'Messages in by region',
    'Messages produced per second, summed per region over the selected clusters (%s).' % s.clusterMessagesIn.name,
    'mps',
    [k.target('sum by (region) (%s)' % s.clusterMessagesIn.expr(sel), '{{region}}')],
    stack=true,
  ) + k.withSize(10, 9);

  local sloStatus = k.table(
    'SLO status',
    ('Per SLO, environment and cluster: error budget remaining over the SLO period, current burn rate (1 = the ' +
     'budget lasts exactly the period), status (warning below %d %%, critical below %d %% remaining) and time to ' +
     'exhaustion at the current burn rate ("not burning" when nothing burns). Click a row for the SLO detail.') % [c.budgetWarning * 100, c.budgetCritical * 100],
    'none',
    [
      k.target('max by (slo, environment, cluster) (slo:error_budget_remaining:ratio{%s})' % sloSel, instant=true),
      k.target('max by (slo, environment, cluster) (slo:current_burn_rate:ratio{%s})' % sloSel, instant=true),
      k.target('max by (slo, environment, cluster) (slo:status:code{%s})' % sloSel, instant=true),
      k.target(s.timeToExhaustion('slo, environment, cluster', sloSel), instant=true),
    ],
    [['slo', 'SLO'], ['environment', 'Environment'], ['cluster', 'Cluster'], ['Value #C', 'Status'],
     ['Value #A', 'Budget remaining'], ['Value #B', 'Burn rate'], ['Value #D', 'Time to exhaustion']],
    sortBy=['Status', true],
  ) + k.withOverrides([
    k.override('SLO', { links: [k.link('SLO detail', toSlo)] }),
    k.colouredColumn('Status', 'none', mappings=s.statusMappings),
    k.colouredColumn('Budget remaining', 'percentunit',
                     steps=[['red', null], ['orange', c.budgetCritical], ['green', c.budgetWarning]]),
    k.colouredColumn('Burn rate', 'suffix:×', steps=[['green', null], ['orange', 1], ['red', c.burnRateFactors.page[1]]]),
    k.override('Time to exhaustion', { unit: 's', mappings: [s.notBurningMapping] }),
  ]) + k.withSize(24, 8);

  // Fixed 24h window: these panels answer "what did self-healing do today", whatever range the dashboard shows,
  // so their windows are the panel's own range ($__range under a 24h time override), never a hard-coded duration.
  local remediations = k.bargauge(
    'Remediations by issue type (24h)',
    'Remediations the self-healing webhook ran in the last 24 hours per alert name (issue type), every result ' +
    'included (kafka_obs_webhook_remediations_total).',
    'none',
    [k.target('sum by (alertname) (increase(kafka_obs_webhook_remediations_total[$__range]))', '{{alertname}}',
              instant=true, format='time_series')],
  ) + k.withTimeFrom('24h') + k.withLinks([k.link('Self-healing', f.drill(c.uids.selfHealing))]) + k.withSize(10, 7);
  local successRate = k.stat(
    'Remediation success rate (24h)',
    'Succeeded remediations out of those that acted (succeeded, failed, rolled back, interrupted) in the last ' +
    '24 hours; dry runs, refusals and cancellations did not act and do not count.',
    'percentunit',
    [k.target(s.remediationSuccess('$__range'), instant=true, format='time_series')],
    [['red', null], ['orange', 0.8], ['green', 0.95]],
  ) + k.withTimeFrom('24h') + k.withSize(4, 7);
  local inFlight = k.stat(
    'Remediations in flight',
    'Remediation actions running right now (kafka_obs_webhook_actions_in_flight), and whether the kill switch is on.',
    'none',
    [k.target('sum(kafka_obs_webhook_actions_in_flight)', 'in flight')],
  ) + k.withSize(5, 7);
  local paused = k.stat(
    'Self-healing paused',
    'The webhook kill switch (kafka_obs_webhook_paused): while paused no new action starts.',
    'none',
    [k.target('max(kafka_obs_webhook_paused)')],
  ) + { fieldConfig+: { defaults+: { mappings: k.valueMappings([['0', 'active', 'green'], ['1', 'paused', 'orange']]) } } }
    + k.withSize(5, 7);

  local costPerCluster = k.bargauge(
    'Estimated cost per cluster',
    'Estimated $/day per cluster (%s): storage GB × $/GB-month ÷ 30.44 days plus ingress GB/day × $/GB.' % s.costPerDay.name,
    'currencyUSD',
    [k.target('sort_desc(%s)' % s.costPerDay.expr(sel, 'cluster'), '{{cluster}}')],
  ) + k.withSize(8, 8);
  local storage = k.bargauge(
    'Storage per cluster',
    'Bytes on the brokers\' log directories per cluster, all replicas: what the disks hold and cost (%s).' % s.storageBytes.name,
    'decbytes',
    [k.target('sort_desc(%s)' % s.storageBytes.expr(sel, 'cluster'), '{{cluster}}')],
  ) + k.withSize(8, 8);
  local ingress = k.bargauge(
    'Ingress per day per cluster',
    'Bytes produced per day per cluster at the current rate (%s × 86400 s/day).' % s.clusterBytesIn.name,
    'decbytes',
    [k.target('sort_desc(86400 * %s)' % s.clusterBytesIn.expr(sel, 'cluster'), '{{cluster}}')],
  ) + k.withSize(8, 8);

  f.dashboard(
    'executive',
    'Executive overview',
    'Fleet health, throughput, SLO status, self-healing activity and cost across every Kafka cluster.',
    f.variables,
    [
      [health] + totals,
      [overview, byRegion],
      [sloStatus],
      [remediations, successRate, inFlight, paused],
      [costPerCluster, storage, ingress],
    ],
  )
