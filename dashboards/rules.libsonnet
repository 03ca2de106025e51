// The rules bundle (`kafka-obs rules generate` → rules/generated/*.yml), split the monitoring-mixins way:
// recording rules become `prometheusRules`, alerts `prometheusAlerts`. The YAML files stay the single source; this
// file only reads them (imports are lazy, so the dashboards build never needs them).
//
// Both levels of the bundle are listed (docs/rules.md, "Regional and global Prometheus"): a single Prometheus
// loading this mixin gets every series. With federation, a regional Prometheus needs only the top-level files and
// the global one only the `global/` files; `regionalRuleFiles` and `globalRuleFiles` name them.
//
// importstr takes literal paths only, hence the explicit list; tests/dashboards/test_mixin.py fails when it no
// longer matches the files in rules/generated/.
local files = {
  'global/kafka-aggregations.yml': importstr '../rules/generated/global/kafka-aggregations.yml',
  'global/slo-rollups.yml': importstr '../rules/generated/global/slo-rollups.yml',
  'kafka-aggregations.yml': importstr '../rules/generated/kafka-aggregations.yml',
  'kafka-alerts.yml': importstr '../rules/generated/kafka-alerts.yml',
  'slo-broker-availability.yml': importstr '../rules/generated/slo-broker-availability.yml',
  'slo-consumer-lag.yml': importstr '../rules/generated/slo-consumer-lag.yml',
  'slo-message-delivery.yml': importstr '../rules/generated/slo-message-delivery.yml',
  'slo-status.yml': importstr '../rules/generated/slo-status.yml',
};

{
  local groups = std.flattenArrays([std.parseYaml(files[name]).groups for name in std.objectFields(files)]),
  local only(kind) = [
    group { rules: [rule for rule in group.rules if std.objectHas(rule, kind)] }
    for group in groups
    if std.length([rule for rule in group.rules if std.objectHas(rule, kind)]) > 0
  ],

  ruleFiles:: std.objectFields(files),
  globalRuleFiles:: [name for name in std.objectFields(files) if std.startsWith(name, 'global/')],
  regionalRuleFiles:: [name for name in std.objectFields(files) if !std.startsWith(name, 'global/')],
  prometheusRules+:: { groups+: only('record') },
  // The recording rules are the same for both JMX sources; the alerts are the exporter shape's (docs/rules.md).
  prometheusAlerts+:: {
    assert $._config.jmxSource == 'exporter' :
           "prometheusAlerts are rules/generated's, written for jmxSource 'exporter': for '" + $._config.jmxSource +
           "' load the alerts of `kafka-obs rules generate --jmx-source " + $._config.jmxSource + ' --out DIR` instead',
    groups+: only('alert'),
  },
}
