"""The self-healing webhook: an Alertmanager receiver that remediates, verifies, rolls back and escalates."""
