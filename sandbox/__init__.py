"""The sandbox: simulated Kafka clusters that speak the real Kafka wire protocol (a simulator, not Kafka)."""
