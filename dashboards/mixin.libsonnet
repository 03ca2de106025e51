// kafka-obs as a monitoring mixin: `grafanaDashboards`, `prometheusRules` and `prometheusAlerts`, configured by
// `_config` (config.libsonnet). Vendor this directory (with ../rules/generated) and, for example:
//
//   local kafkaObs = (import 'kafka-obs/dashboards/mixin.libsonnet') + { _config+:: { dashboardTags: ['kafka'] } };
//   { ['dashboards/' + name]: kafkaObs.grafanaDashboards[name] for name in std.objectFields(kafkaObs.grafanaDashboards) }
//
// or `jsonnet -S -e 'std.manifestYamlDoc((import "mixin.libsonnet").prometheusAlerts)'` for an alerts file.
(import 'config.libsonnet') +
(import 'dashboards.libsonnet') +
(import 'rules.libsonnet')
