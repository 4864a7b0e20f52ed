"""Smoke test of the benchmarks: ``python -m benchmarks --quick`` produces numbers.

It runs the benchmark program as a user would, in a subprocess, with tiny
sizes (one server configuration, 1 and 10 listeners, 50 idle connections
and a reconnect storm of 50, 20 and 200 tickets, 30 posts, uploads of 64 and
256 KiB), and checks that every measurement (B1 to B6, on our server and on
every baseline it is compared with: pure websockets, the bare Django/Channels
project, nginx serving a file) produced finite numbers, and that the report
has the target table. It asserts no
timing: the machine this runs on is shared and its timings drift.

Under ``CI=true`` a missing package (matplotlib, websockets, uvloop) fails
the test; elsewhere it skips.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from typing import Any

import pytest

from tests.harness.process import ROOT, missing

pytestmark = pytest.mark.live


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def assert_numbers(row: dict[str, Any], *fields: str) -> None:
    for name in fields:
        assert is_number(row.get(name)), f"{name} is not a number in {row}"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    for module in ("matplotlib", "websockets", "uvloop"):
        if importlib.util.find_spec(module) is None:
            missing(f"the Python package {module} is missing")
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = f"exit {run.returncode}\n--- stderr ---\n{run.stderr[-6000:]}"
    assert (out / "results.json").exists(), log
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    assert not data["errors"], f"{data['errors']}\n{log}"
    assert run.returncode == 0, log
    report = (out / "results.md").read_text()
    assert report.startswith("# Benchmark results")
    for heading in ("Targets", "B1", "B2", "B3", "B4", "B5", "B6"):
        assert f"\n## {heading}" in report, heading
    for plot in data["meta"]["plots"]:
        assert (out / plot).stat().st_size > 0
    return data


def measured_in(results: dict[str, Any], benchmark: str) -> set[str]:
    """The targets that take part in *benchmark*, as the run recorded them."""
    return {k for k, t in results["targets"].items() if benchmark in t["measured_in"]}


def test_every_server_was_measured(results: dict[str, Any]) -> None:
    families = {t["family"] for t in results["targets"].values()}
    assert families == {"ours", "pure", "bare"}
    assert set(results["meta"]["sections"]) == {"setup", "b1", "b2", "b3", "b4", "b5", "b6"}


def test_b1_latency_has_percentiles_for_every_transport(results: dict[str, Any]) -> None:
    sizes = results["meta"]["sizes"]["b1_listeners"]
    cells = {(r["target"], r["transport"], r["listeners"]) for r in results["b1"]}
    for key in measured_in(results, "b1"):
        for transport in results["targets"][key]["transports"]:
            for listeners in sizes:
                assert (key, transport, listeners) in cells
    for row in results["b1"]:
        assert row["missing"] == 0, row
        assert_numbers(row, "p50_ms", "p95_ms", "p99_ms", "post_ms_median", "server_cpu_s")
    assert {r["target"] for r in results["b1_loaded"]} == measured_in(results, "b1")
    for row in results["b1_loaded"]:
        assert_numbers(row, "p50_ms", "achieved_rate", "delivered_fraction", "server_cpu_share")


def test_b2_throughput_has_a_rate_for_every_server(results: dict[str, Any]) -> None:
    assert {r["target"] for r in results["b2"]} == measured_in(results, "b2")
    for row in results["b2"]:
        assert_numbers(row, "sustained_posts_per_s", "sustained_events_per_s")
        assert row["steps"]
        for step in row["steps"]:
            assert_numbers(step, "offered_rate", "achieved_rate", "delivered_events_per_s")


def test_b3_capacity_has_memory_per_connection(results: dict[str, Any]) -> None:
    measured = {(r["target"], r["transport"]) for r in results["b3"]}
    for key in measured_in(results, "b3"):
        for transport in results["targets"][key]["transports"]:
            assert (key, transport) in measured
    for row in results["b3"]:
        assert row["reached"] > 0, row
        assert_numbers(row, "rss_idle_bytes", "rss_top_bytes", "rss_per_connection_bytes")
        assert_numbers(row["broadcast"], "p50_ms")


def test_b3_reconnect_storm_brings_clients_back(results: dict[str, Any]) -> None:
    stormed = {r["target"] for r in results["b3_reconnect"]}
    assert stormed == {
        k for k in measured_in(results, "b3") if results["targets"][k]["family"] in ("ours", "bare")
    }
    for row in results["b3_reconnect"]:
        assert row["back"] > 0, row


def test_b4_rest_has_latency_and_queries(results: dict[str, Any]) -> None:
    assert {r["target"] for r in results["b4"]} == measured_in(results, "b4")
    sizes = results["meta"]["sizes"]
    for key in measured_in(results, "b4"):
        seen = {(r["tickets"], r["paginated"]) for r in results["b4"] if r["target"] == key}
        if results["targets"][key]["family"] == "ours":
            assert (sizes["b4_small_tickets"], True) in seen
            assert (sizes["b4_tickets"], True) in seen
            assert (sizes["b4_tickets"], False) in seen
    for row in results["b4"]:
        assert row["status"] == 200, row
        assert_numbers(row, "median_ms", "queries", "bytes")


def test_b5_post_against_the_bare_view(results: dict[str, Any]) -> None:
    rows = {(r["target"], r["phase"]) for r in results["b5"]}
    for key in measured_in(results, "b5"):
        assert {(key, "sequential"), (key, "concurrent")} <= rows
    assert {results["targets"][k]["family"] for k in measured_in(results, "b5")} == {
        "ours",
        "bare",
    }
    for row in results["b5"]:
        # Whether every post got a 2xx depends on contention (a busy machine makes
        # SQLite writers wait longer): the report's target table judges it, not this test.
        assert row["ok"] > 0, row
        assert_numbers(row, "p50_ms", "p99_ms", "posts_per_s", "server_cpu_ms_per_post")


def test_b6_files_against_the_bare_view_and_nginx(results: dict[str, Any]) -> None:
    rows = {(r["target"], r["phase"]) for r in results["b6"]}
    for key in measured_in(results, "b6"):
        assert {(key, "upload"), (key, "burst")} <= rows
        if results["targets"][key]["family"] == "ours":
            assert (key, "download") in rows
            assert [r for r in results["b6"] if r["target"] == "nginx" and r["beside"] == key]
    assert {results["targets"][k]["family"] for k in measured_in(results, "b6")} == {
        "ours",
        "bare",
    }
    for row in results["b6"]:
        assert_numbers(row, "p50_ms", "posts_per_s", "bytes")
        if row["phase"] == "download":
            assert row["non_2xx"] == 0, row
            assert_numbers(row, "mib_per_s")
            continue
        assert row["ok"] > 0, row  # the target table judges non-2xx answers
        assert_numbers(row, "server_cpu_ms_per_post", "rss_idle_bytes", "rss_peak_bytes")


def test_the_report_has_every_target(results: dict[str, Any]) -> None:
    checks = results["targets_check"]
    assert checks
    unmeasured = [c for c in checks if c["met"] is None]
    assert not unmeasured, unmeasured
