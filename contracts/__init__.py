"""The public wire contract: incident event models, their codec, topic routing and JSON Schema."""
