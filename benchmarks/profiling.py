"""Where the server's time goes: py-spy samples of a running worker, summarised.

py-spy attaches to the server process by pid (no change to the server, no
restart) and samples its Python stacks. The raw collapsed stacks are written
to ``raw/`` in the output folder (open them in speedscope or flamegraph.pl;
they are not committed); the summary, which goes into the results, attributes each
sample's innermost frame to a layer (WebSocket server, channels, asgiref's
thread hops, the ORM, our app, …), which says what to optimise next.

py-spy samples a thread blocked on a lock or in ``epoll`` as if it were
running (it cannot always tell from outside), so those samples get their
own "waiting" layer instead of being counted as work.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.config import say
from tests.harness.process import ROOT

#: (layer, substrings of the file path), first match wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("support app", (f"{ROOT}/support/",)),
    ("django-eventstream", ("/django_eventstream/",)),
    ("channels (consumers, layers, middleware)", ("/channels/", "/channels_redis/")),
    ("asgiref (sync/async thread hops)", ("/asgiref/",)),
    ("DRF", ("/rest_framework/",)),
    ("Django ORM + DB driver", ("/django/db/", "sqlite3", "/psycopg")),
    ("Django (other)", ("/django/",)),
    (
        "ASGI/WebSocket server (daphne, twisted, autobahn, uvicorn, websockets)",
        (
            "/daphne/",
            "/twisted/",
            "/autobahn/",
            "/txaio/",
            "/uvicorn/",
            "/websockets/",
            "/h11/",
            "/httptools/",
            "/wsproto/",
        ),
    ),
    (
        "waiting (epoll, idle pool threads: sampled, not CPU)",
        ("/selectors.py", "/asyncio/runners.py", "/threading.py", "/concurrent/", "/queue.py"),
    ),
    ("asyncio event loop", ("/asyncio/", "uvloop")),
    ("json", ("/json/",)),
    ("redis client", ("/redis/", "msgpack")),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _executable() -> str | None:
    """py-spy on ``PATH``, else next to this Python (a virtual environment's ``bin``)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def available() -> bool:
    return _executable() is not None


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Sample *pid* for *seconds* at 100 Hz into *output* (raw collapsed stacks)."""
    executable = _executable()
    assert executable is not None, "py-spy is not installed"
    say(f"  profiling pid {pid} for {seconds:.0f} s with py-spy")
    return subprocess.Popen(
        [executable, "record", "--pid", str(pid), "--duration", str(int(seconds)),
         "--rate", "100", "--format", "raw", "--function", "--full-filenames",
         "--nonblocking", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def layer_of(path: str) -> str:
    for layer, needles in LAYERS:
        if any(needle in path for needle in needles):
            return layer
    return "other"


def _stacks(raw: Path) -> Iterable[tuple[list[tuple[str, str]], int]]:
    for line in raw.read_text(errors="replace").splitlines():
        stack, _sep, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            if match:
                frames.append((match["func"], match["file"]))
        if frames:
            yield frames, int(count)


def _short(path: str) -> str:
    for marker in ("site-packages/", f"{ROOT}/", "lib/python3."):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Samples per layer (innermost frame), top functions by self and inclusive time."""
    layers: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(raw):
        total += count
        func, path = frames[-1]
        layers[layer_of(path)] += count
        own[f"{func} ({_short(path)})"] += count
        seen: set[str] = set()
        for func, path in frames:
            name = f"{func} ({_short(path)})"
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
                if layer_of(path) == "support app":
                    ours[name] += count
    if not total:
        return {"samples": 0}

    def share(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        return [{"name": k, "share": v / total} for k, v in counter.most_common(n)]

    return {
        "samples": total,
        "layers": share(layers, len(LAYERS) + 1),
        "self": share(own, top),
        "inclusive": share(inclusive, top),
        "support_inclusive": share(ours, top),
    }


def finish(process: subprocess.Popen[bytes], raw: Path) -> dict[str, Any] | None:
    _out, err = process.communicate(timeout=120)
    if process.returncode != 0 or not raw.exists():
        say(f"  py-spy failed: {err.decode(errors='replace')[-500:]}")
        return None
    return summarise(raw)
