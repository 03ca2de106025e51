// 4. SLO detail: for each SLO, is the SLI above its objective, how fast is the error budget burning in each alerting
// window (against the factors the alerts fire at), and when does the budget run out at this pace.
// Every series is recorded by the rules bundle (rules/generated), labelled slo, environment and the SLO's group_by
// labels (cluster by default).
local k = import '../lib/kobs.libsonnet';

function(c)
  local f = (import '../lib/fleet.libsonnet')(c);
  local s = (import '../lib/series.libsonnet')(c);
  local sel = c.sloSelector;
  local by = 'slo, environment, cluster';
  local legend = '{{slo}} / {{environment}} / {{cluster}}';
  local slo = k.queryVariable(
    'slo', 'SLO', 'label_values(slo:objective:ratio{environment=~"$environment", cluster=~"$cluster"}, slo)',
  );
  local series(metric) = 'max by (%s) (%s{%s})' % [by, metric, sel];
  local factors = c.burnRateFactors.page + c.burnRateFactors.ticket;
  local budgetSteps = [['red', null], ['orange', c.budgetCritical], ['green', c.budgetWarning]];

  local stats = [
    k.stat('Status', 'The seed\'s SLO status (slo:status:code): healthy, warning below %d %% of the error budget ' % (c.budgetWarning * 100) +
                     'left, critical below %d %%.' % (c.budgetCritical * 100), 'none',
           [k.target(series('slo:status:code'), legend)]) + {
      fieldConfig+: { defaults+: { mappings: s.statusMappings } },
    } + k.withSize(6, 5),
    k.stat('Error budget remaining', 'Share of the error budget of the SLO period still unspent ' +
                                     '(slo:error_budget_remaining:ratio); negative once the SLO is breached.', 'percentunit',
           [k.target(series('slo:error_budget_remaining:ratio'), legend)], budgetSteps) + k.withSize(6, 5),
    k.stat('Current burn rate', 'Error ratio over the first page alert\'s long window divided by the error budget ' +
                                '(slo:current_burn_rate:ratio): 1 spends the budget exactly over the period.', 'suffix:×',
           [k.target(series('slo:current_burn_rate:ratio'), legend)],
           [['green', null], ['orange', 1], ['red', c.burnRateFactors.page[1]]], decimals=2) + k.withSize(6, 5),
    k.stat('Time to exhaustion', 'When the remaining budget runs out at the current burn rate ' +
                                 '(slo:time_to_exhaustion:seconds); "not burning" while the current burn rate is 0, ' +
                                 '0 once the budget is gone.',
           's', [k.target(s.timeToExhaustion(by, sel), legend)],
           [['red', null], ['orange', 86400], ['green', 7 * 86400]]) + {
      fieldConfig+: { defaults+: { mappings: [s.notBurningMapping] } },
    } + k.withSize(6, 5),
  ];

  local sli = k.timeseries(
    'SLI vs objective',
    'Good share over the SLO period, traffic-weighted (1 - slo:sli_error:ratio_period), against the objective ' +
    '(slo:objective:ratio, dashed).',
    'percentunit',
    [
      k.target('1 - ' + series('slo:sli_error:ratio_period'), 'SLI ' + legend),
      k.target(series('slo:objective:ratio'), 'objective ' + legend),
    ],
  ) + k.withOverrides([{
    matcher: { id: 'byFrameRefID', options: 'B' },
    properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }],
  }]) + k.withSize(12, 9);

  local burnDown = k.timeseries(
    'Error budget burn-down',
    'Error budget remaining over time (slo:error_budget_remaining:ratio); the dashed lines are the warning ' +
    'and critical status thresholds.',
    'percentunit',
    [k.target(series('slo:error_budget_remaining:ratio'), legend)],
  ) + k.withThresholdLines([['red', null], ['orange', c.budgetCritical], ['transparent', c.budgetWarning]])
    + k.withSize(12, 9);

  local burnRates = k.timeseries(
    'Burn rate per window',
    ('Burn rate in each alerting window: slo:sli_error:ratio{window} / slo:error_budget:ratio. The dashed ' +
     'lines are the alert factors (%s×): a page fires when both windows of a pair are above theirs, a ticket ' +
     'likewise. Windows scale with each SLO\'s period; the factors do not.') % std.join('×, ', [std.toString(x) for x in factors]),
    'suffix:×',
    [k.target(
      'max by (%s, window) (slo:sli_error:ratio{%s}) / ignoring (window) group_left () max by (%s) (slo:error_budget:ratio{%s})'
      % [by, sel, by, sel],
      legend + ' {{window}}',
    )],
    min=0,
  ) + k.withThresholdLines([['transparent', null]] + [['red', x] for x in factors]) + k.withSize(24, 9);

  local budgets = k.table(
    'Objectives',
    'Each SLO\'s objective, error budget, period and the burn rate averaged over the whole period ' +
    '(slo:period_burn_rate:ratio; above 1 the SLO ends the period breached).',
    'none',
    [
      k.target(series('slo:objective:ratio'), instant=true),
      k.target(series('slo:error_budget:ratio'), instant=true),
      k.target(series('slo:period:seconds'), instant=true),
      k.target(series('slo:period_burn_rate:ratio'), instant=true),
    ],
    [['slo', 'SLO'], ['environment', 'Environment'], ['cluster', 'Cluster'], ['Value #A', 'Objective'],
     ['Value #B', 'Error budget'], ['Value #C', 'Period'], ['Value #D', 'Period burn rate']],
    sortBy=['Period burn rate', true],
  ) + k.withOverrides([
    k.override('Objective', { unit: 'percentunit', decimals: 3 }),
    k.override('Error budget', { unit: 'percentunit', decimals: 3 }),
    k.override('Period', { unit: 'dtdurations' }),
    k.colouredColumn('Period burn rate', 'suffix:×', steps=[['green', null], ['red', 1]]),
  ]) + k.withSize(24, 7);

  f.dashboard(
    'slo',
    'SLO detail',
    'Per SLO and cluster: SLI against objective, error budget burn-down, burn rates per alerting window, time to exhaustion.',
    f.variables + [slo],
    [stats, [sli, burnDown], [burnRates], [budgets]],
  )
