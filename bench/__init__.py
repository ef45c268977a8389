"""Benchmarks of the pure pipeline (no services)."""
