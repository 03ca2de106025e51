// 3. Consumer groups: who is behind, by how many messages and by how much time, and is the group even running.
local k = import '../lib/kobs.libsonnet';

function(c)
  local f = (import '../lib/fleet.libsonnet')(c);
  local group = k.queryVariable(
    'consumergroup', 'Consumer group',
    'label_values(kafka_consumergroup_members{%s}, consumergroup)' % c.fleetSelector,
  );
  local topic = k.queryVariable(
    'topic', 'Topic',
    'label_values(kafka_consumergroup_lag_sum{%s, consumergroup=~"$consumergroup"}, topic)' % c.fleetSelector,
  );
  local topn = k.customVariable('topn', 'Top N', ['5', '10', '20', '50'], '10');
  // Group-level series (members, state, max lag seconds) have no topic label; per-topic series do.
  local gsel = '%s, consumergroup=~"$consumergroup"' % c.fleetSelector;
  local tsel = '%s, topic=~"$topic"' % gsel;
  local lagSteps = [['green', null], ['orange', c.lagWarning], ['red', c.lagCritical]];

  // The exporter's lag evaluation (docs/exporter.md#lag-evaluation): label values and partition codes.
  local statusText = [
    ['OK', 'OK', 'green'], ['WARN', 'WARN', 'orange'], ['REWIND', 'REWIND', 'blue'],
    ['STALL', 'STALL', 'red'], ['STOP', 'STOP', 'dark-red'],
  ];
  local statusCodes = [[std.toString(i), statusText[i][1], statusText[i][2]] for i in std.range(0, 4)];

  local laggards = k.bargauge(
    'Top $topn laggards (messages)',
    'The consumer groups furthest behind, in messages summed over their topics (kafka_consumergroup_lag_sum).',
    'short',
    [k.target('topk($topn, sum by (cluster, consumergroup) (kafka_consumergroup_lag_sum{%s}))' % tsel,
              '{{cluster}} / {{consumergroup}}', instant=true, format='time_series')],
    lagSteps,
  ) + k.withSize(12, 9);
  local laggardsTime = k.bargauge(
    'Top $topn laggards (time)',
    'The consumer groups furthest behind in time: how old the oldest unconsumed message is, estimated from the ' +
    'log-end offset history (kafka_consumergroup_max_lag_seconds).',
    's',
    [k.target('topk($topn, max by (cluster, consumergroup) (kafka_consumergroup_max_lag_seconds{%s}))' % gsel,
              '{{cluster}} / {{consumergroup}}', instant=true, format='time_series')],
    [['green', null], ['orange', 60], ['red', 600]],
  ) + k.withSize(12, 9);

  local groups = k.table(
    'Consumer groups',
    'Per group: state (Stable, Empty, PreparingRebalance, Dead, ...), lag evaluation (OK; WARN: alive but too ' +
    'slow, more consumers help; STALL: members but no progress; STOP: no members, nothing consumes; REWIND: offset ' +
    'reset; kafka_consumergroup_status), abandoned (Empty and idle past lag_evaluation.abandoned_after: left out ' +
    'of the consumer-lag SLI), members, total lag in messages and the largest lag in time.',
    'none',
    [
      k.target('max by (cluster, consumergroup, state) (kafka_consumergroup_state{%s} == 1)' % gsel, instant=true),
      k.target('max by (cluster, consumergroup) (kafka_consumergroup_members{%s})' % gsel, instant=true),
      k.target('sum by (cluster, consumergroup) (kafka_consumergroup_lag_sum{%s})' % tsel, instant=true),
      k.target('max by (cluster, consumergroup) (kafka_consumergroup_max_lag_seconds{%s})' % gsel, instant=true),
      k.target('max by (cluster, consumergroup, status) (kafka_consumergroup_status{%s} == 1)' % gsel, instant=true),
      k.target('max by (cluster, consumergroup) (kafka_consumergroup_abandoned{%s})' % gsel, instant=true),
    ],
    [['cluster', 'Cluster'], ['consumergroup', 'Group'], ['state', 'State'], ['status', 'Status'],
     ['Value #F', 'Abandoned'], ['Value #B', 'Members'], ['Value #C', 'Lag (messages)'], ['Value #D', 'Lag (time)']],
    sortBy=['Lag (messages)', true],
  ) + k.withOverrides([
    k.colouredColumn('State', 'none', mappings=k.valueMappings([
      ['Stable', 'Stable', 'green'],
      ['Empty', 'Empty', 'orange'],
      ['PreparingRebalance', 'PreparingRebalance', 'yellow'],
      ['CompletingRebalance', 'CompletingRebalance', 'yellow'],
      ['Dead', 'Dead', 'red'],
    ])),
    k.colouredColumn('Status', 'none', mappings=k.valueMappings(statusText)),
    k.colouredColumn('Abandoned', 'none', mappings=k.valueMappings([['0', 'no', 'transparent'], ['1', 'yes', 'purple']])),
    k.colouredColumn('Lag (messages)', 'short', steps=lagSteps),
    k.override('Lag (time)', { unit: 's' }),
    k.override('Members', { unit: 'none' }),
  ]) + k.withSize(24, 9);

  local lag = k.timeseries(
    'Lag by group and topic (messages)',
    'Messages not yet consumed per group and topic (kafka_consumergroup_lag_sum). Growing lag means consumers ' +
    'are slower than producers.',
    'short',
    [k.target('sum by (cluster, consumergroup, topic) (kafka_consumergroup_lag_sum{%s})' % tsel,
              '{{cluster}} / {{consumergroup}} / {{topic}}')],
    min=0,
  ) + k.withThresholdLines([['transparent', null], ['red', c.lagCritical]]);
  local lagTime = k.timeseries(
    'Lag by group and topic (time)',
    'Age of the oldest unconsumed message per group and topic, the worst partition (kafka_consumergroup_lag_seconds).',
    's',
    [k.target('max by (cluster, consumergroup, topic) (kafka_consumergroup_lag_seconds{%s})' % tsel,
              '{{cluster}} / {{consumergroup}} / {{topic}}')],
    min=0,
  );
  local evaluation = k.timeseries(
    'Lag evaluation over time (worst partition)',
    'Per group, the worst partition status code (kafka_consumergroup_partition_status): 0 OK, 1 WARN (alive, too ' +
    'slow: scaling helps), 2 REWIND (offset moved back), 3 STALL (members, no progress), 4 STOP (no members). ' +
    'STALL and STOP alert (KafkaConsumerGroupStalled/Stopped); the lag playbook scales only WARN.',
    'none',
    [k.target('max by (cluster, consumergroup) (kafka_consumergroup_partition_status{%s})' % tsel,
              '{{cluster}} / {{consumergroup}}')],
    min=0,
  ) + k.withSize(24, 8) + { fieldConfig+: { defaults+: { max: 4, mappings: k.valueMappings(statusCodes) } } };
  local consumed = k.timeseries(
    'Consumption rate',
    'Messages committed per second per group (rate of kafka_consumergroup_current_offset).',
    'mps',
    [k.target('sum by (cluster, consumergroup) (rate(kafka_consumergroup_current_offset{%s}[$__rate_interval]))' % tsel,
              '{{cluster}} / {{consumergroup}}')],
    min=0,
  );
  local members = k.timeseries(
    'Members',
    'Members per group (kafka_consumergroup_members): drops show crashed consumers, steps show scaling.',
    'none',
    [k.target('max by (cluster, consumergroup) (kafka_consumergroup_members{%s})' % gsel,
              '{{cluster}} / {{consumergroup}}')],
    min=0,
  );

  f.dashboard(
    'consumerGroups',
    'Consumer groups',
    'Consumer lag in messages and time, why groups are behind (lag evaluation), group state and membership, and ' +
    'the worst laggards.',
    f.variables + [group, topic, topn],
    [[laggards, laggardsTime], [groups], [evaluation], [lag, lagTime], [consumed, members]],
  )
