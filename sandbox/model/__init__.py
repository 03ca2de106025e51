"""The in-memory model of simulated clusters: brokers, topics, partitions, groups, configs and disks."""
