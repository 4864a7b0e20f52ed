"""The bare baselines (:func:`benchmarks.targets.bare`): a minimal Django + Channels project."""
