"""Kept so that ``from tests.integration.stack import NginxServer`` still works: the code is
in :mod:`tests.harness.nginx`; the stack itself is the ``stack`` fixture (``conftest.py``)."""

from tests.harness.nginx import NginxMode, NginxServer, render_site

__all__ = ["NginxMode", "NginxServer", "render_site"]
