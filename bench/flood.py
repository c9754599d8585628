"""An ordinary question's latency while one client floods the API with worst-case questions.

    python bench/flood.py [--data-dir data] [--seconds 15] [--flooders 4]

Starts `exporta serve` on the given index (rate limit off, to measure the work itself), times an
ordinary question idle, then again while `--flooders` threads of one other client send
2 000-character questions of corpus words joined by " y " as fast as they are answered; prints
both p50/p95 from the same run. The two clients are told apart by X-Forwarded-For from a proxy
named in EXPORTA_TRUSTED_PROXIES, as behind a reverse proxy.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent.parent
ORDINARY = "¿Qué es AGROIDEAS?"


def worst_case(seed: int) -> str:
    text = " ".join(
        p.read_text(encoding="utf-8", errors="ignore") for p in (HERE / "corpus").glob("*.md")
    )
    words = sorted({w for w in text.split() if w.isalpha() and len(w) > 5})
    return " y ".join(random.Random(seed).sample(words, 400))[:1990]


def timed(client: httpx.Client, question: str) -> float:
    started = time.perf_counter()
    client.post("/api/ask", json={"question": question}).raise_for_status()
    return (time.perf_counter() - started) * 1000


def figures(times: list[float]) -> str:
    times = sorted(times)
    return f"p50 {statistics.median(times):7.1f} ms · p95 {times[int(len(times) * 0.95)]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--flooders", type=int, default=4)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "EXPORTA_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1",
           "EXPORTA_TRUSTED_PROXIES": "127.0.0.1"}  # fmt: skip
    command = [sys.executable, "-m", "bot.cli", "--data-dir", str(args.data_dir), "serve",
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        user = {"X-Forwarded-For": "203.0.113.1"}
        with httpx.Client(base_url=base, timeout=120, headers=user) as client:
            while True:
                try:
                    client.get("/readyz").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            idle = [timed(client, ORDINARY) for _ in range(20)]
            stop = threading.Event()
            flooded: list[float] = []

            def flood(seed: int) -> None:
                question = worst_case(seed)
                flooder = {"X-Forwarded-For": "198.51.100.7"}
                with httpx.Client(base_url=base, timeout=120, headers=flooder) as own:
                    while not stop.is_set():
                        flooded.append(timed(own, question))

            threads = [threading.Thread(target=flood, args=(n,)) for n in range(args.flooders)]
            for thread in threads:
                thread.start()
            time.sleep(1)
            busy, deadline = [], time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                busy.append(timed(client, ORDINARY))
            stop.set()
            for thread in threads:
                thread.join()
    finally:
        server.terminate()
        server.wait(10)
    print(f"ordinary question, idle:            {figures(idle)}")
    print(
        f"ordinary question, {args.flooders} flooding:       {figures(busy)}  ({len(busy)} asked)"
    )
    print(f"worst-case question, while flooding: {figures(flooded)}  ({len(flooded)} answered)")
    print(f"slowdown of the ordinary p50: {statistics.median(busy) / statistics.median(idle):.1f}x")


if __name__ == "__main__":
    main()
