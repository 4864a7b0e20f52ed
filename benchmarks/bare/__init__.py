"""The bare baselines: a minimal Django + Channels project, the framework's own floor.

``POST /notes/`` is a plain function view behind ``startproject``'s middleware that
inserts one row in ``transaction.atomic()``; ``ws/listen/`` and ``ws/bot/`` are a
consumer with no authentication, database or channel layer that relays each
``ticket.assign`` as one ``ticket.assigned`` frame to every listener of the process.
"""
