"""Benchmarks of the support app against baselines measured in the same run.

``python -m benchmarks``: see docs/benchmarks.md.
"""
