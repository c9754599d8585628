"""Load on one process with embedded Chroma and SQLite, then on two workers with Chroma's server and
PostgreSQL, in one run.

    python bench/scale_out.py [--data-dir data] [--clients 20] [--duration 30]

The first setup serves the index in --data-dir. The second starts `chroma run` and a throwaway
PostgreSQL cluster (tests/postgres.py; needs Debian's postgresql), indexes the bundled corpus into
that Chroma server (from its bundled vectors, in seconds) and serves it with
`uvicorn --workers 2`. The same clients (bench/load_web.py) ask POST /api/ask for the same time;
prints resp/s, p50/p95/p99, outcomes and the resident memory of each process. Rate limits are off
(every client is 127.0.0.1). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import postgres  # noqa: E402
from load_web import (  # noqa: E402
    DEFAULT_QUESTIONS,
    HOST,
    free_port,
    percentile,
    rss_mib,
    run_load,
    wait_ready,
)

CHROMA = Path(sys.executable).with_name("chroma")
EXPORTA = Path(sys.executable).with_name("exporta")


@contextmanager
def process(command: list[str], env: dict[str, str]):
    child = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    try:
        yield child
    finally:
        child.terminate()
        child.wait(30)


@contextmanager
def chroma_server(folder: Path):
    port = free_port()
    command = [str(CHROMA), "run", "--path", str(folder), "--host", HOST, "--port", str(port)]
    with process(command, {}) as child:
        url = f"http://{HOST}:{port}"
        import httpx

        for _ in range(300):
            try:
                httpx.get(f"{url}/api/v2/heartbeat", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url, child


def serve(env: dict[str, str], workers: int):
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bot.compose:web_app", "--factory",
               "--host", HOST, "--port", str(port), "--workers", str(workers),
               "--log-level", "warning"]  # fmt: skip
    return f"http://{HOST}:{port}", process(command, env)


def measure(name: str, base: str, server, args, extra_rss: dict[str, int]) -> str:
    wait_ready(base, server)
    result = asyncio.run(run_load(base, args, DEFAULT_QUESTIONS))
    ms = sorted(v * 1000 for v in result["latencies"])
    rss = {"exporta": rss_mib(server.pid)} | {k: rss_mib(pid) for k, pid in extra_rss.items()}
    memory = ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items() if v is not None)
    outcomes = dict(result["outcomes"])
    return (
        f"{name:40s} {len(ms) / result['elapsed']:6.1f} resp/s · p50 {percentile(ms, 50):5.0f} ms"
        f" · p95 {percentile(ms, 95):5.0f} · p99 {percentile(ms, 99):5.0f} · {outcomes} · {memory}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()
    args.endpoint, args.max_requests = "ask", 100_000
    quiet = {"EXPORTA_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1",
             "EXPORTA_RELOAD_CHECK_SECONDS": "0"}  # fmt: skip
    lines = []
    work = Path(tempfile.mkdtemp(prefix="exporta-scale-"))
    embedded = {**quiet, "EXPORTA_DATA_DIR": str(args.data_dir.resolve()),
                "EXPORTA_DATABASE_URL": f"sqlite:///{work / 'one.db'}"}  # fmt: skip
    base, started = serve(embedded, 1)
    with started as server:
        lines.append(measure("1 proceso, Chroma embebido, SQLite", base, server, args, {}))
    with postgres.Cluster() as pg, chroma_server(work / "chroma") as (url, chroma):
        shared = {**quiet, "EXPORTA_CHROMA_URL": url, "EXPORTA_DATABASE_URL": pg.new_database(),
                  "EXPORTA_DATA_DIR": str(work / "data")}  # fmt: skip
        subprocess.run([str(EXPORTA), "ingest", "-q"], cwd=ROOT, env={**os.environ, **shared},
                       check=True)  # fmt: skip
        base, started = serve(shared, 2)
        with started as server:
            name = "2 workers, chroma run, PostgreSQL"
            lines.append(measure(name, base, server, args, {"chroma": chroma.pid}))
    print(f"{args.clients} clientes, {args.duration:.0f} s, POST /api/ask")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
