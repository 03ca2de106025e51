// The dashboards of the bundle, keyed by their file name under generated/ (the mixin's `grafanaDashboards`).
{
  local c = $._config,
  grafanaDashboards+:: {
    'kafka-obs-executive.json': (import 'src/executive.libsonnet')(c),
  },
}
