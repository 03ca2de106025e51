// The mixin's `_config`: everything a team vendoring kafka-obs may want to override, in one place.
//
// Dashboards never hard-code a job name or a series name: they read the selectors and the series below, so when the
// rules bundle renames a recording rule, only this file changes.
{
  _config+:: {
    dashboardTags: ['kafka-obs'],
    dashboardPrefix: 'Kafka / ',
    uids: {
      executive: 'kafka-obs-executive',
      cluster: 'kafka-obs-cluster',
      consumerGroups: 'kafka-obs-consumer-groups',
      slo: 'kafka-obs-slo',
      selfHealing: 'kafka-obs-self-healing',
    },

    // Where the brokers' JMX series come from (docs/rules.md, "Using the jmx_exporter agent instead of the
    // exporter's JMX"): 'exporter' (kafka-obs reads JMX; each series carries `broker`, the broker id) or 'agent'
    // (prometheus/jmx_exporter's agent in each broker, scraped by Prometheus; each series carries the agent's
    // `instance`). The same setting as `jmx_source` of rules/slos.yaml.
    jmxSource: 'exporter',

    // The fleet variables, chained: environment is filtered by region, cluster by both.
    clusterInfoSeries: 'kafka_cluster_info',
    fleetSelector: 'region=~"$region", environment=~"$environment", cluster=~"$cluster"',
    // SLO series carry `slo`, `environment` and the SLO's group_by labels (`cluster` by default), no `region`.
    sloSelector: 'slo=~"$slo", environment=~"$environment", cluster=~"$cluster"',

    // Burn-rate factors of the multi-window alerts (SRE Workbook; constant across periods because the rules scale the
    // windows, not the factors). Drawn as threshold lines on the SLO detail dashboard.
    burnRateFactors: { page: [14.4, 6], ticket: [3, 1] },
    // SLO status thresholds of the seed: warning below 50 % budget remaining, critical below 20 %.
    budgetWarning: 0.5,
    budgetCritical: 0.2,
    // Consumer lag colouring (the seed's consumer-lag SLO threshold is 10000 messages).
    lagWarning: 1000,
    lagCritical: 10000,
  },
}
