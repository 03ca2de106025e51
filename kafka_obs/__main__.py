from kafka_obs.cli import entrypoint

entrypoint()
