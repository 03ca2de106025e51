// 5. Self-healing: what the remediation webhook did (by playbook and result), what it is doing now, and whether it
// is held back (kill switch, queue). Reads the webhook's own /metrics; its series carry no fleet labels, the
// playbook variable filters them. The full audit trail (before/after state) is the webhook's GET /actions.
local k = import '../lib/kobs.libsonnet';

function(c)
  local f = (import '../lib/fleet.libsonnet')(c);
  local s = (import '../lib/series.libsonnet')(c);
  local playbook = k.queryVariable(
    'playbook', 'Playbook', 'label_values(kafka_obs_webhook_remediations_total, playbook)',
  );
  local pb = 'playbook=~"$playbook"';
  local resultColours = k.withOverrides([
    { matcher: { id: 'byRegexp', options: '.*%s.*' % r[0] }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: r[1] } }] }
    // remediation results, then action results (applied, failed, rolled_back, rollback_failed)
    // (later overrides win in Grafana: rollback_failed must come after failed, which its regex also matches)
    for r in [['succeeded', 'green'], ['applied', 'green'], ['failed', 'red'], ['rollback_failed', 'dark-red'],
              ['rolled_back', 'orange'], ['interrupted', 'purple'], ['refused', 'yellow'], ['cancelled', 'blue'],
              ['dry_run', 'text']]
  ]);

  local now = [
    k.stat('Actions in flight', 'Remediation actions running right now (kafka_obs_webhook_actions_in_flight); ' +
                                'at most one per target.', 'none',
           [k.target('sum(kafka_obs_webhook_actions_in_flight)', 'in flight')]),
    k.stat('Queue depth', 'Notifications durably queued and not yet processed (kafka_obs_webhook_queue_depth).',
           'none', [k.target('sum(kafka_obs_webhook_queue_depth)', 'queued')], [['green', null], ['orange', 10]]),
    k.stat('Kill switch', 'Whether self-healing is paused (kafka_obs_webhook_paused): no new action starts while on.',
           'none', [k.target('max(kafka_obs_webhook_paused)', 'paused')]) + {
      fieldConfig+: { defaults+: { mappings: k.valueMappings([['0', 'active', 'green'], ['1', 'paused', 'orange']]) } },
    },
    k.stat('Success rate', 'Succeeded remediations out of those that acted (succeeded, failed, rolled back, ' +
                           'interrupted) over the dashboard range, all playbooks.', 'percentunit',
           [k.target(s.remediationSuccess('$__range'), instant=true, format='time_series')],
           [['red', null], ['orange', 0.8], ['green', 0.95]]),
    k.stat('Escalations', 'Remediations handed to humans through Alertmanager over the dashboard range ' +
                          '(kafka_obs_webhook_escalations_total).', 'none',
           [k.target('sum(increase(kafka_obs_webhook_escalations_total{%s}[$__range]))' % pb, instant=true,
                     format='time_series')],
           [['green', null], ['red', 1]], decimals=0),
    k.stat('Notifications', 'Alertmanager notifications received per second by status ' +
                            '(kafka_obs_webhook_notifications_total).', 'reqps',
           [k.target('sum by (status) (rate(kafka_obs_webhook_notifications_total[$__rate_interval]))', '{{status}}')]) +
    { options+: { textMode: 'value_and_name' } },
  ];

  local remediations = k.timeseries(
    'Remediations by playbook and result',
    'Remediations finished per interval, by playbook and result (kafka_obs_webhook_remediations_total): succeeded, ' +
    'failed, rolled_back, cancelled (the alert resolved first), refused (a guardrail), dry_run, interrupted.',
    'none',
    [k.target('sum by (playbook, result) (increase(kafka_obs_webhook_remediations_total{%s}[$__rate_interval]))' % pb,
              '{{playbook}} {{result}}')],
    stack=true,
    bars=true,
  ) + resultColours;
  local actions = k.timeseries(
    'Actions by playbook, action and result',
    'Individual actions (scale a deployment, alter topic configs) per interval and their result: applied, failed, ' +
    'rolled_back, rollback_failed (kafka_obs_webhook_actions_total).',
    'none',
    [k.target('sum by (playbook, action, result) (increase(kafka_obs_webhook_actions_total{%s}[$__rate_interval]))' % pb,
              '{{playbook}} {{action}} {{result}}')],
    stack=true,
    bars=true,
  ) + resultColours;
  local verification = k.timeseries(
    'Verification time',
    'How long verification took before the PromQL condition held or the deadline passed, median and 95th percentile ' +
    '(kafka_obs_webhook_verification_duration_seconds).',
    's',
    [
      k.target('histogram_quantile(%s, sum by (le) (rate(kafka_obs_webhook_verification_duration_seconds_bucket[$__rate_interval])))' % q[1],
               q[0])
      for q in [['p50', '0.5'], ['p95', '0.95']]
    ],
    min=0,
  );
  local escalations = k.timeseries(
    'Escalations by playbook',
    'Escalations (RemediationFailed alerts sent to Alertmanager) per interval and playbook.',
    'none',
    [k.target('sum by (playbook) (increase(kafka_obs_webhook_escalations_total{%s}[$__rate_interval]))' % pb, '{{playbook}}')],
    bars=true,
  );
  local last = k.table(
    'Last actions',
    'Per playbook, action and result: when it last happened in the dashboard range (the last interval in which the ' +
    'counter grew). The audit log with before/after state is at the webhook\'s GET /actions.',
    'none',
    [k.target(
      'max by (playbook, action, result) (max_over_time((timestamp(increase(kafka_obs_webhook_actions_total{%s}[$__rate_interval]) > 0) * 1000)[$__range:]))' % pb,
      instant=true,
    )],
    [['Value', 'Last seen'], ['playbook', 'Playbook'], ['action', 'Action'], ['result', 'Result']],
    sortBy=['Last seen', true],
  ) + k.withOverrides([
    k.override('Last seen', { unit: 'dateTimeAsIso' }),
    k.colouredColumn('Result', 'none', mappings=k.valueMappings([
      ['applied', 'applied', 'green'],
      ['failed', 'failed', 'red'],
      ['rolled_back', 'rolled back', 'orange'],
      ['rollback_failed', 'rollback failed', 'dark-red'],
    ])),
  ]) + k.withSize(24, 8);

  f.dashboard(
    'selfHealing',
    'Self-healing',
    'What the remediation webhook did, is doing and is held back from: actions by playbook and result, in flight, last actions.',
    f.variables + [playbook],
    [now, [remediations, actions], [verification, escalations], [last]],
  )
