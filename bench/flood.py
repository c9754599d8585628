"""An ordinary question's latency while one client floods the API with worst-case questions.

    python bench/flood.py [--data-dir data] [--seconds 15] [--flooders 4]

Starts `exporta serve` on the given index (rate limit off, to measure the work itself), times an
ordinary question idle, then again while `--flooders` threads of one other client send
2 000-character questions (corpus words joined by " y ", or made-up words) as fast as they are
answered; prints both p50/p95 from the same run, and what a worst-case question costs alone. The two clients are told apart by X-Forwarded-For from a proxy
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
    """2 000 characters: corpus words joined by " y " (the most BM25 and answer work) for an even
    seed, made-up words (the most tokens for the embedder) for an odd one."""
    rng = random.Random(seed)
    if seed % 2:
        letters = "abcdefghijklmnopqrstuvwxyz"
        made_up = (
            "".join(rng.choice(letters) for _ in range(rng.randint(5, 9))) for _ in range(400)
        )
        return " ".join(made_up)[:1990]
    text = " ".join(
        p.read_text(encoding="utf-8", errors="ignore") for p in (HERE / "corpus").glob("*.md")
    )
    words = sorted({w for w in text.split() if w.isalpha() and len(w) > 5})
    return " y ".join(rng.sample(words, 400))[:1990]


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
            alone = [timed(client, worst_case(seed)) for seed in range(10)]
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
    print(f"worst-case question, alone:          {figures(alone)}")
    print(f"worst-case question, while flooding: {figures(flooded)}  ({len(flooded)} answered)")
    print(f"slowdown of the ordinary p50: {statistics.median(busy) / statistics.median(idle):.1f}x")


if __name__ == "__main__":
    main()
