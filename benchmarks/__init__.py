"""Benchmarks of the support app against baselines measured in the same run: docs/benchmarks.md."""
