// What every kafka-obs dashboard shares: the chained fleet variables, the dashboards link row and drill-down URLs.
local k = import 'kobs.libsonnet';

function(c) {
  local info = c.clusterInfoSeries,

  region:: k.queryVariable('region', 'Region', 'label_values(%s, region)' % info),
  environment:: k.queryVariable('environment', 'Environment', 'label_values(%s{region=~"$region"}, environment)' % info),
  cluster:: k.queryVariable(
    'cluster', 'Cluster', 'label_values(%s{region=~"$region", environment=~"$environment"}, cluster)' % info
  ),
  variables:: [self.region, self.environment, self.cluster],

  // The link row: every kafka-obs dashboard, carrying the time range and the variables along.
  links:: [{
    type: 'dashboards',
    title: 'kafka-obs',
    tags: c.dashboardTags,
    asDropdown: false,
    includeVars: true,
    keepTime: true,
    icon: 'external link',
    targetBlank: false,
    tooltip: '',
    url: '',
  }],

  // A drill-down URL into another dashboard that keeps the time range, the data source and the fleet variables;
  // `overrides` replaces some of them with the clicked row's values, e.g. {cluster: '${__data.fields.cluster}'}.
  drill(uid, overrides={})::
    local keep = [
      '${%s:queryparam}' % v
      for v in ['datasource', 'region', 'environment', 'cluster']
      if !std.objectHas(overrides, v)
    ];
    local set = ['var-%s=%s' % [v, overrides[v]] for v in std.objectFields(overrides)];
    '/d/%s?%s' % [uid, std.join('&', ['${__url_time_range}'] + keep + set)],

  title(name):: c.dashboardPrefix + name,

  dashboard(key, name, description, variables, rows)::
    k.dashboard(c.uids[key], self.title(name), description, c.dashboardTags, variables, rows, self.links),
}
