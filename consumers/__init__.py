"""Kafka in: the batch ingest loop, contract → domain translation, parking, dead letters, offsets."""
