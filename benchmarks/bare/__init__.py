"""The bare baselines: a minimal Django project written for the benchmark.

It answers the question "what would any naive Django + Channels app pay on
this machine, under this server, on this database?", so the support app can
be judged against the framework's own floor rather than against an
imaginary zero:

* ``POST /notes/`` (:func:`benchmarks.bare.notes.views.create_note`) is the
  Django ceiling for a post: a plain function view behind Django's default
  ``startproject`` middleware that parses JSON, inserts one row in
  ``transaction.atomic()`` and answers 201 with the row. No DRF, no
  authentication, no event log.
* ``ws/listen/`` and ``ws/bot/`` (:mod:`benchmarks.bare.notes.consumers`) are
  the Channels ceiling for fan-out: a consumer with no authentication, no
  database and no channel layer that relays each ``ticket.assign`` command
  as one ``ticket.assigned`` frame to every listening consumer of the
  process.

One ASGI application (:mod:`benchmarks.bare.asgi`) serves both, so one
server process per configuration is both baselines. Settings come from the
environment (``DATABASE_URL`` or ``SQLITE_PATH``), like the example
project's; ``benchmarks/bare/manage.py`` migrates it.
"""
