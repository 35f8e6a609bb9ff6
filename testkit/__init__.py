"""The test kit: realistic exports and traffic for tests and bench (no product code imports it)."""
