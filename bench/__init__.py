"""Benchmarks, run by hand: they import only the product and the test kit."""
