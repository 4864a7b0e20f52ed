"""Real servers on loopback, for the live tests, the integration stack and the benchmarks.

One home for starting and stopping what the end-to-end tests and
``benchmarks/`` run as separate processes:

* :mod:`tests.harness.process`: ports, a missing tool (skip, or fail under
  ``CI=true``), and :class:`~tests.harness.process.ServerProcess`, one
  process listening on a loopback port, measured through ``/proc``;
* :mod:`tests.harness.server`: the example project under daphne
  (:class:`~tests.harness.server.LiveServer`), its environment and test
  credentials;
* :mod:`tests.harness.postgres`: a throwaway PostgreSQL cluster (also
  ``python -m tests.pgserver -- CMD``);
* :mod:`tests.harness.redis`, :mod:`tests.harness.nginx`: ``redis-server``,
  and nginx running ``deploy/nginx.conf``, optionally made hostile;
* :mod:`tests.harness.proxy`: a misbehaving HTTP proxy in this process.

Nothing here imports pytest at module level: the benchmarks use it outside
pytest, where a missing tool raises :class:`~tests.harness.process.MissingTool`.
"""
