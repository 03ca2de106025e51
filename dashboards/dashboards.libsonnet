// The dashboards of the bundle, keyed by their file name under generated/ (the mixin's `grafanaDashboards`).
// Each source is a function of `_config`, so a team vendoring the mixin can override tags, uids or selectors.
{
  local c = $._config,
  grafanaDashboards+:: {
    'kafka-obs-executive.json': (import 'src/executive.libsonnet')(c),
    'kafka-obs-cluster.json': (import 'src/cluster.libsonnet')(c),
    'kafka-obs-consumer-groups.json': (import 'src/consumer_groups.libsonnet')(c),
    'kafka-obs-slo.json': (import 'src/slo.libsonnet')(c),
    'kafka-obs-self-healing.json': (import 'src/self_healing.libsonnet')(c),
  },
}
