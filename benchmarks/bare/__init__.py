"""The bare baselines (:mod:`benchmarks.bare_target`): a minimal Django + Channels project."""
