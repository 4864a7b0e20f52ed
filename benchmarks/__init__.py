"""Benchmarks of the support app against baselines measured in the same run.

``python -m benchmarks`` starts every server itself on loopback (the example
project under daphne and uvicorn, on its embedded defaults and on
PostgreSQL + Redis; a minimal pure-``websockets`` broadcast server; the
original ``chatlabs-django-support==1.2.0`` in its own virtual environment),
drives them with one asyncio client process, and writes a Markdown table,
raw JSON and PNG plots under ``benchmarks/results/``.

Absolute times on a shared 2-core machine drift from run to run, so every
headline figure is a ratio against a baseline measured minutes earlier on
the same machine. ``--quick`` runs tiny sizes as a smoke test and asserts
no timing. See ``docs/benchmarks.md``.
"""
