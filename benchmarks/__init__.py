"""Benchmarks of the support app against baselines measured in the same run.

``python -m benchmarks`` starts every server itself on loopback (the example
project under daphne and uvicorn, on its embedded defaults and on
PostgreSQL + Redis; a minimal pure-``websockets`` broadcast server; a bare
Django + Channels project, :mod:`benchmarks.bare`, under the same servers
on the same databases; the original ``chatlabs-django-support==1.2.0`` in
its own virtual environment), drives them with one asyncio client process,
and writes a Markdown report (with the issue's target table), raw JSON and
PNG plots under ``benchmarks/results/``. B1 latency, B2 fan-out throughput,
B3 idle connections and reconnect storm, B4 the ticket list, B5 a bot's
post; the full run takes about 30 minutes on two cores at most.

Absolute times on a shared 2-core machine drift from run to run, so every
headline figure is a ratio against a baseline measured minutes earlier on
the same machine. ``--quick`` runs tiny sizes as a smoke test and asserts
no timing. See ``docs/benchmarks.md``.
"""
