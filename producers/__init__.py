"""Kafka out: the publisher SDK for upstream systems, JSONL publishing and the traffic simulator."""
