// kobs — the small constructor library kafka-obs dashboards are written with.
//
// Why our own: grafonnet is not available from our registries (and must not be copied), and five dashboards need
// only a handful of constructors. Every constructor bakes in the conventions the tests enforce (grafana/dashboard-
// linter and the monitoring-mixins practice): every panel and target reads the `datasource` variable, every panel
// has a title, a description and a unit, and layout/ids are computed so no dashboard hand-places panels.
//
// Shape of the API (all functions return plain Grafana JSON objects that can be refined with `+`):
//   datasourceVariable(), queryVariable(name, label, query), customVariable(name, label, values, default)
//   target(expr, legend, instant, format)            — a Prometheus query
//   timeseries / stat / gauge / bargauge / table (title, description, unit, targets, ...)
//   thresholds(steps), valueMappings(map), override(matcher, properties), link(title, url)
//   withSize(w, h), grid(rows)                        — layout: rows of panels, ids and gridPos computed
//   dashboard(uid, title, description, tags, variables, panels, links)
{
  local ds = { type: 'prometheus', uid: '${datasource}' },
  datasource:: ds,

  // ---- templating ---------------------------------------------------------------------------------------------

  datasourceVariable():: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: {},
    hide: 0,
    refresh: 1,
    regex: '',
    options: [],
  },

  // A chained, multi-select query variable with "All" (the dashboard-linter asks for multi-select label variables;
  // chaining is done by the caller through `query`, e.g. label_values(kafka_cluster_info{region=~"$region"}, x)).
  queryVariable(name, label, query, multi=true, includeAll=true):: {
    name: name,
    label: label,
    type: 'query',
    datasource: ds,
    definition: query,
    query: { query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    current: {},
    hide: 0,
    multi: multi,
    includeAll: includeAll,
    // `.*` keeps "All" short and also matches series that lack the label (rule outputs aggregated above it).
    [if includeAll then 'allValue']: '.*',
    refresh: 2,  // on time range change: clusters come and go
    regex: '',
    sort: 1,
    options: [],
  },

  customVariable(name, label, values, default):: {
    name: name,
    label: label,
    type: 'custom',
    query: std.join(',', values),
    current: { selected: true, text: default, value: default },
    hide: 0,
    multi: false,
    includeAll: false,
    options: [
      { selected: v == default, text: v, value: v }
      for v in values
    ],
  },

  // ---- queries ------------------------------------------------------------------------------------------------

  target(expr, legend='', instant=false, format=null):: {
    datasource: ds,
    expr: expr,
    legendFormat: legend,
    instant: instant,
    range: !instant,
    format: if format != null then format else (if instant then 'table' else 'time_series'),
    editorMode: 'code',
  },

  // ---- field config helpers -------------------------------------------------------------------------------------

  // steps: [[color, value-or-null], ...]; the first step's value is null (the base colour).
  thresholds(steps):: {
    mode: 'absolute',
    steps: [{ color: s[0], value: s[1] } for s in steps],
  },

  // values: [[value, text, colour], ...] → one Grafana value mapping with colours (e.g. SLO status codes).
  valueMappings(values):: [{
    type: 'value',
    options: { [values[i][0]]: { text: values[i][1], color: values[i][2], index: i } for i in std.range(0, std.length(values) - 1) },
  }],

  override(name, properties):: {
    matcher: { id: 'byName', options: name },
    properties: [{ id: p, value: properties[p] } for p in std.objectFields(properties)],
  },

  // A data link or dashboard link that keeps the time range and the variables (drill-down).
  link(title, url):: { title: title, url: url, targetBlank: false },

  // ---- panels -------------------------------------------------------------------------------------------------

  local panel(type, title, description, unit, targets) = {
    assert std.length(targets) > 0 : 'panel "%s" has no query' % title,
    assert description != '' : 'panel "%s" has no description' % title,
    type: type,
    title: title,
    description: description,
    datasource: ds,
    targets: [
      targets[i] { refId: std.char(std.codepoint('A') + i) }
      for i in std.range(0, std.length(targets) - 1)
    ],
    fieldConfig: {
      defaults: {
        unit: unit,
        color: { mode: 'thresholds' },
        thresholds: $.thresholds([['green', null]]),
        mappings: [],
      },
      overrides: [],
    },
    options: {},
    size:: { w: 12, h: 8 },
  },

  timeseries(title, description, unit, targets, stack=false, bars=false, min=null):: panel('timeseries', title, description, unit, targets) {
    fieldConfig+: {
      defaults+: {
        color: { mode: 'palette-classic' },
        [if min != null then 'min']: min,
        custom: {
          drawStyle: if bars then 'bars' else 'line',
          lineWidth: 1,
          fillOpacity: if stack || bars then 60 else 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
          thresholdsStyle: { mode: 'off' },
        },
      },
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  },

  // Draws the thresholds of a time series as dashed lines (e.g. the burn-rate alert factors).
  withThresholdLines(steps):: {
    fieldConfig+: { defaults+: {
      thresholds: $.thresholds(steps),
      custom+: { thresholdsStyle: { mode: 'dashed' } },
    } },
  },

  local reduce(calc) = { reduceOptions: { calcs: [calc], fields: '', values: false } },

  stat(title, description, unit, targets, steps=[['green', null]], calc='lastNotNull', decimals=null):: panel('stat', title, description, unit, targets) {
    fieldConfig+: { defaults+: { thresholds: $.thresholds(steps), [if decimals != null then 'decimals']: decimals } },
    options: reduce(calc) {
      colorMode: 'background',
      graphMode: 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: 'auto',
    },
    size:: { w: 4, h: 4 },
  },

  gauge(title, description, unit, targets, steps, min=0, max=100):: panel('gauge', title, description, unit, targets) {
    fieldConfig+: { defaults+: { thresholds: $.thresholds(steps), min: min, max: max } },
    options: reduce('lastNotNull') { showThresholdLabels: false, showThresholdMarkers: true },
    size:: { w: 4, h: 6 },
  },

  bargauge(title, description, unit, targets, steps=[['green', null]]):: panel('bargauge', title, description, unit, targets) {
    fieldConfig+: { defaults+: { thresholds: $.thresholds(steps), min: 0 } },
    options: reduce('lastNotNull') { displayMode: 'gradient', orientation: 'horizontal', showUnfilled: true },
  },

  // A table of instant queries joined on their labels. `columns` orders and renames them: [[field, display], ...]
  // where field is a label name or "Value #<refId>"; every other field (Time, __name__, ...) is hidden.
  table(title, description, unit, targets, columns, sortBy=null):: panel('table', title, description, unit, targets) {
    local fields = [c[0] for c in columns],
    fieldConfig+: { defaults+: { custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false } } },
    options: {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], fields: '' },
      [if sortBy != null then 'sortBy']: [{ displayName: sortBy[0], desc: sortBy[1] }],
    },
    transformations: [
      { id: 'merge', options: {} },
      {
        id: 'organize',
        options: {
          excludeByName: { Time: true, __name__: true, job: true, instance: true },
          indexByName: { [fields[i]]: i for i in std.range(0, std.length(fields) - 1) },
          renameByName: { [c[0]]: c[1] for c in columns },
        },
      },
      { id: 'filterFieldsByName', options: { include: { names: [c[1] for c in columns] } } },
    ],
  },

  // Colour a table column's cell background by thresholds or by the value mappings of the panel.
  colouredColumn(name, unit, steps=null, mappings=null):: $.override(name, {
    unit: unit,
    'custom.cellOptions': { type: 'color-background', mode: 'basic' },
    [if steps != null then 'thresholds']: $.thresholds(steps),
    [if mappings != null then 'mappings']: mappings,
  }),

  withSize(w, h):: { size:: { w: w, h: h } },
  withOverrides(overrides):: { fieldConfig+: { overrides+: overrides } },
  withLinks(links):: { fieldConfig+: { defaults+: { links: links } } },
  // A panel that always shows a fixed trailing window, whatever the dashboard's range (e.g. "the last 24h").
  withTimeFrom(window):: { timeFrom: window, hideTimeOverride: false },

  // ---- layout -------------------------------------------------------------------------------------------------

  // rows: [[panel, ...], ...]; panels in a row sit side by side, a row is as high as its tallest panel.
  grid(rows)::
    local heights = [std.foldl(function(m, p) std.max(m, p.size.h), row, 0) for row in rows];
    local tops = [std.foldl(function(s, h) s + h, heights[0:i], 0) for i in std.range(0, std.length(rows) - 1)];
    local lefts(row) = [std.foldl(function(s, p) s + p.size.w, row[0:j], 0) for j in std.range(0, std.length(row) - 1)];
    local placed = std.flattenArrays([
      [rows[i][j] { gridPos: { x: lefts(rows[i])[j], y: tops[i], w: rows[i][j].size.w, h: rows[i][j].size.h } }
       for j in std.range(0, std.length(rows[i]) - 1)]
      for i in std.range(0, std.length(rows) - 1)
    ]);
    [placed[k] { id: k + 1 } for k in std.range(0, std.length(placed) - 1)],

  // ---- dashboard ----------------------------------------------------------------------------------------------

  dashboard(uid, title, description, tags, variables, rows, links=[]):: {
    uid: uid,
    title: title,
    description: description,
    tags: tags,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    timezone: 'utc',
    refresh: '1m',
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    annotations: { list: [{
      builtIn: 1,
      datasource: { type: 'grafana', uid: '-- Grafana --' },
      enable: true,
      hide: true,
      iconColor: 'rgba(0, 211, 255, 1)',
      name: 'Annotations & Alerts',
      type: 'dashboard',
    }] },
    templating: { list: [$.datasourceVariable()] + variables },
    links: links,
    panels: $.grid(rows),
  },
}
