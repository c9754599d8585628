"""Bounded load on the web API: `exporta`'s app on 127.0.0.1, N concurrent clients for T seconds.

    .venv/bin/python bench/load_web.py                       # 20 clients, 30 s, POST /api/ask
    .venv/bin/python bench/load_web.py --clients 5 --duration 10 --endpoint stream
    .venv/bin/python bench/load_web.py --questions ../shared/eval/dev.jsonl

The server runs in its own process (`uvicorn bot.compose:web_app --factory`) over the index in
EXPORTA_DATA_DIR (default ./data), with the per-client rate limit off, since every simulated client
comes from 127.0.0.1. Traffic goes to loopback only; the run stops after --duration seconds or
--max-requests requests, whichever comes first. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

HOST = "127.0.0.1"  # loopback only, by design
DEFAULT_QUESTIONS = [
    "¿Quién es responsable de proveer información de mercados destino en el PERX Moquegua?",
    "¿Qué es la Ventanilla Única de Comercio Exterior (VUCE)?",
    "¿Qué actores convoca la ARD Apurímac?",
    "¿Qué servicios brinda PROMPERÚ a las empresas exportadoras?",
    "¿Cuáles son los objetivos prioritarios de la PNMCE al 2040?",
    "¿Qué metas de asistencia técnica tiene el plan de moluscos?",
    "¿Qué es la ruta productiva exportadora?",
    "¿cuál es la receta del ceviche de conchas negras?",  # an abstention
]


def load_questions(path: str | None) -> list[str]:
    """Questions from a JSONL gold file ({"question": …} per line) or a text file, one a line."""
    if not path:
        return DEFAULT_QUESTIONS
    questions = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            questions.append(
                json.loads(line)["question"] if line.lstrip().startswith("{") else line
            )
    return questions


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(port: int, workers: int) -> subprocess.Popen:
    # The load's questions are recorded as real ones would be, but in a throwaway usage database.
    usage_db = Path(tempfile.mkdtemp(prefix="exporta-load-")) / "usage.db"
    env = {
        **os.environ,
        "EXPORTA_RATE_LIMIT_PER_MINUTE": "0",
        "HF_HUB_OFFLINE": "1",
        "EXPORTA_DATABASE_URL": f"sqlite:///{usage_db}",
    }
    command = [
        sys.executable, "-m", "uvicorn", "bot.compose:web_app", "--factory",
        "--host", HOST, "--port", str(port), "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env)


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
            if response.status_code == 200:
                return response.json()
            if response.status_code == 503:
                raise SystemExit(f"the index is not ready: {response.json()['detail']}")
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit("the server did not become ready in time")


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process and its children (the uvicorn workers), from /proc."""
    total, pids = 0, [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        for each in pids:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    except OSError:
        return None
    return total / 1024


async def client_loop(
    client: httpx.AsyncClient,
    path: str,
    questions: list[str],
    offset: int,
    stop_at: float,
    budget: list[int],
    latencies: list[float],
    first_bytes: list[float],
    outcomes: Counter,
) -> None:
    i = offset
    while time.monotonic() < stop_at and budget[0] > 0:
        budget[0] -= 1
        question = questions[i % len(questions)]
        i += 1
        started = time.perf_counter()
        try:
            async with client.stream("POST", path, json={"question": question}) as response:
                first = None
                async for _ in response.aiter_bytes():
                    first = first or time.perf_counter()
                outcome = str(response.status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            first = None
        done = time.perf_counter()
        outcomes[outcome] += 1
        if outcome == "200":
            latencies.append(done - started)
            if first is not None:
                first_bytes.append(first - started)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(title: str, values: list[float]) -> str:
    if not values:
        return f"{title}: (sin datos)"
    ms = sorted(v * 1000 for v in values)
    return (
        f"{title}: p50 {percentile(ms, 50):.0f} ms · p95 {percentile(ms, 95):.0f} ms · "
        f"p99 {percentile(ms, 99):.0f} ms · máx {ms[-1]:.0f} ms"
    )


async def run_load(base: str, args: argparse.Namespace, questions: list[str]) -> dict:
    path = "/api/ask/stream" if args.endpoint == "stream" else "/api/ask"
    latencies: list[float] = []
    first_bytes: list[float] = []
    outcomes: Counter = Counter()
    budget = [args.max_requests]
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await client.post(path, json={"question": questions[0]})  # warm-up, not counted
        started = time.monotonic()
        stop_at = started + args.duration
        await asyncio.gather(
            *(
                client_loop(
                    client, path, questions, n, stop_at, budget, latencies, first_bytes, outcomes
                )
                for n in range(args.clients)
            )
        )
        elapsed = time.monotonic() - started
    return {"latencies": latencies, "first": first_bytes, "outcomes": outcomes, "elapsed": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (20)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (30)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="hard cap on requests")
    parser.add_argument("--endpoint", choices=["ask", "stream"], default="ask")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1)")
    parser.add_argument("--questions", help="JSONL gold file or text file, one question a line")
    args = parser.parse_args()
    if not 1 <= args.clients <= 200 or not 0 < args.duration <= 600:
        parser.error("use 1-200 clients and at most 600 seconds")

    questions = load_questions(args.questions)
    port = free_port()
    base = f"http://{HOST}:{port}"
    server = start_server(port, args.workers)
    try:
        ready = wait_ready(base, server)
        print(
            f"Índice: {ready['documents']} documentos, {ready['chunks']} fragmentos · "
            f"{args.clients} clientes · {args.duration:.0f} s · POST /api/"
            f"{'ask/stream' if args.endpoint == 'stream' else 'ask'} · {args.workers} worker(s)"
        )
        result = asyncio.run(run_load(base, args, questions))
        memory = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    outcomes = result["outcomes"]
    total = sum(outcomes.values())
    ok = outcomes.get("200", 0)
    print(
        f"Peticiones: {total} en {result['elapsed']:.1f} s · {ok / result['elapsed']:.1f} resp/s OK"
    )
    print(report("Latencia", result["latencies"]))
    if args.endpoint == "stream":
        print(report("Primer byte", result["first"]))
    errors = {k: v for k, v in outcomes.items() if k != "200"}
    print(f"Errores: {sum(errors.values())} {dict(errors) if errors else ''}".rstrip())
    if memory is not None:
        print(f"Memoria del servidor (RSS): {memory:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
