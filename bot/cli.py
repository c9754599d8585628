"""`exporta`: the command line (its parser and `main`; the commands are in bot/commands.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from bot.commands import (
    DEFAULT_TRAIN_GOLD,
    EXIT_USER_ERROR,
    cmd_ask,
    cmd_eval,
    cmd_history,
    cmd_ingest,
    cmd_remove,
    cmd_report,
    cmd_serve,
    cmd_status,
    cmd_telegram,
    cmd_train,
    cmd_vectors,
)
from prompts import message
from retrieval.errors import ExportaError

EXAMPLES = """ejemplos:
  exporta ingest                       indexa corpus/ (solo lo que cambió)
  exporta ingest informe.pdf --rebuild reconstruye el índice desde cero
  exporta ask "que es agroideas"       responde con fuentes citadas
  exporta vectors corpus               guarda corpus/vectors.npz (indexar sin calcular vectores)
  exporta remove informe-2019          deja de citar un documento (y lo archiva)
  exporta history informe-2019         versiones de un documento: cuándo, quién, hash
  exporta ask                          modo conversación (Ctrl+D para salir)
  exporta ask --json - < preguntas.txt una pregunta por línea, JSON Lines
  exporta eval ../shared/eval/dev.jsonl
  exporta eval ../shared/eval/train.jsonl --folds 5   calidad con validación cruzada
  exporta train                        entrena la política de respuesta (train.jsonl)
  exporta telegram                     bot de Telegram (EXPORTA_TELEGRAM_TOKEN)
  exporta serve --port 8000            página web y API en http://127.0.0.1:8000/
  exporta report --since 2025-03-01    preguntas sin respuesta, votos 👎 y uso por día
"""


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(message("usage.since_invalid", value=value)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exporta",
        description="Exporta: responde preguntas de exportadores con los documentos oficiales "
        "(PERX, PNMCE, estudios), siempre citando la fuente.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="muestra el registro detallado"
    )
    parser.add_argument(
        "--data-dir", help="carpeta del índice (por defecto EXPORTA_DATA_DIR o ./data)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMANDO")

    _index_commands(sub)
    _answer_commands(sub)
    _server_commands(sub)
    return parser


def _index_commands(sub) -> None:
    """ingest, vectors, status, remove, history: what is indexed."""
    p = sub.add_parser("ingest", help="indexa documentos (.pdf, .txt, .md)",
                       description="Indexa archivos o carpetas. Solo procesa lo nuevo o cambiado; "
                       "quita del índice los documentos borrados de las carpetas indicadas.")  # fmt: skip
    p.add_argument(
        "paths", nargs="*", help="archivos o carpetas (por defecto EXPORTA_CORPUS_DIR o ./corpus)"
    )
    p.add_argument(
        "--rebuild", action="store_true", help="borra el índice y lo reconstruye desde cero"
    )
    p.add_argument("--recompute-vectors", action="store_true",
                   help="calcula otra vez el vector de cada texto, sin la caché local ni "
                   "vectors.npz (por defecto se reutiliza el de todo texto ya calculado)")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="sin barra de progreso ni avance")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("vectors", help="guarda en CARPETA/vectors.npz los vectores de sus documentos",
                       description="Escribe CARPETA/vectors.npz con los vectores que indexar sus "
                       "documentos necesita (cada unidad de respuesta y el contexto de cada "
                       "fragmento), para que `exporta ingest` la indexe "
                       "en un equipo nuevo sin calcularlos. Los textos ya indexados en este equipo "
                       "no se recalculan. Ejecútalo (make vectors) cuando cambien los documentos "
                       "incluidos o la forma de fragmentarlos.")  # fmt: skip
    p.add_argument(
        "folder",
        nargs="?",
        metavar="CARPETA",
        help="carpeta de documentos (por defecto EXPORTA_CORPUS_DIR o ./corpus)",
    )
    p.set_defaults(func=cmd_vectors)

    p = sub.add_parser("status", help="muestra el índice: ubicación, modelo y documentos",
                       description="Dónde está el índice, qué modelo lo construyó y qué documentos tiene.")  # fmt: skip
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("remove", help="quita un documento del índice (deja de citarse)",
                       description="Quita el documento DOC_ID del índice en un solo paso (mientras "
                       "tanto se sigue respondiendo) y mueve su archivo de la carpeta del corpus a "
                       "<data_dir>/archive/. Queda en el historial y en la auditoría.")  # fmt: skip
    p.add_argument("doc_id", metavar="DOC_ID", help="id del documento (míralos con exporta status)")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("history", help="historial de versiones de los documentos",
                       description="Cada versión indexada de un documento (o de todos): fecha, "
                       "quién la indexó, hash del contenido, fragmentos y acción (añadido, "
                       "reemplazado, quitado, reindexado).")  # fmt: skip
    p.add_argument("doc_id", nargs="?", metavar="DOC_ID", help="solo este documento")
    p.set_defaults(func=cmd_history)


def _answer_commands(sub) -> None:
    """ask, eval, train: answering and measuring the answers."""
    p = sub.add_parser("ask", help="responde una pregunta con fuentes citadas",
                       description="Responde en español con citas [n]. Sin pregunta abre una "
                       "conversación; con '-' lee una pregunta por línea de la entrada estándar.")  # fmt: skip
    p.add_argument(
        "question", nargs="?", help="la pregunta, o '-' para leerlas de la entrada estándar"
    )
    p.add_argument(
        "--json", action="store_true", help="imprime el contrato JSON (JSON Lines con '-')"
    )
    p.add_argument("-k", type=int, default=None, help="número de fuentes (por defecto 5)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="mide la calidad con preguntas de referencia (gold)",
                       description="Pasa cada pregunta del archivo JSONL por el servicio y reporta "
                       "hit@1/5/10, MRR@10, exactitud de claves, abstención y latencia.")  # fmt: skip
    p.add_argument("gold", help="archivo JSONL de preguntas de referencia")
    p.add_argument(
        "-k", type=int, default=10, help="fuentes recuperadas por pregunta (por defecto 10)"
    )
    p.add_argument("--folds", type=int, default=0, metavar="N",
                   help="validación cruzada: entrena la política de respuesta en N-1 partes del "
                   "archivo y mide en la restante, N veces (no usa el modelo guardado)")  # fmt: skip
    p.add_argument("--splits", type=int, default=1, choices=range(1, 6), metavar="M",
                   help="con --folds: cuántos repartos distintos de las preguntas en partes medir "
                   "(1 a 5, por defecto 1). Con varios, también una fila por reparto y la media: "
                   "un solo reparto mueve las claves en una o dos preguntas")  # fmt: skip
    p.add_argument("--json", action="store_true", help="imprime el informe en JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("train", help="entrena la política de respuesta con preguntas de referencia",
                       description="Entrena el puntaje de unidades de respuesta y el clasificador "
                       "de abstención con un archivo JSONL de preguntas de referencia, elige sus "
                       "umbrales en particiones internas, imprime la validación cruzada y guarda "
                       "el modelo en retrieval/models/answer_policy.json. Requiere el índice del "
                       "corpus completo y scikit-learn (extra `train`).")  # fmt: skip
    p.add_argument("gold", nargs="?", default=str(DEFAULT_TRAIN_GOLD),
                   help=f"archivo JSONL (por defecto {DEFAULT_TRAIN_GOLD})")  # fmt: skip
    p.add_argument("--folds", type=int, default=5, metavar="N",
                   help="particiones de la validación cruzada que se imprime (0 = no medir)")  # fmt: skip
    p.add_argument("--output", type=Path, default=None,
                   help="dónde guardar el modelo (por defecto, el del paquete)")  # fmt: skip
    p.set_defaults(func=cmd_train)


def _server_commands(sub) -> None:
    """serve, telegram, report: the channels and what their users did."""
    p = sub.add_parser("serve", help="abre la página web y la API JSON",
                       description="Sirve la página de preguntas (/), la API JSON (/api/ask, "
                       "/api/ask/stream, /api/documents) y su documentación (/docs).")  # fmt: skip
    p.add_argument("--host", help="dirección de escucha (por defecto EXPORTA_HOST o 127.0.0.1)")
    p.add_argument("--port", type=int, help="puerto (por defecto EXPORTA_PORT o 8000)")
    p.add_argument("--workers", type=int, help="procesos (por defecto EXPORTA_WORKERS o 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("telegram", help="atiende el bot de Telegram (long polling)",
                       description="Responde en Telegram con las mismas fuentes citadas. Necesita "
                       "EXPORTA_TELEGRAM_TOKEN (de @BotFather); EXPORTA_TELEGRAM_BASE_URL apunta a "
                       "un servidor propio de la Bot API.")  # fmt: skip
    p.set_defaults(func=cmd_telegram)

    p = sub.add_parser("report", help="informe de uso: preguntas sin respuesta, votos 👎, uso por día",
                       description="Lo que aprendemos del uso: las preguntas sin respuesta más "
                       "frecuentes (agrupadas por parecido), las respuestas marcadas 👎 con sus "
                       "fuentes y las preguntas por canal y día (hora de Lima).")  # fmt: skip
    p.add_argument("--since", type=_day, metavar="AAAA-MM-DD",
                   help="solo desde ese día (por defecto, todo lo guardado)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="imprime el informe en JSON")
    p.set_defaults(func=cmd_report)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pypdf warns about every quirk of a broken file; the ingest summary already says why it failed.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    # Long indexing says how far it is (a bar on a terminal, a line every 10 s elsewhere).
    logging.getLogger("ingest.progress").setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    try:
        return args.func(args)
    except ExportaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ValidationError as exc:  # a setting from the environment or .env that cannot be read
        for error in exc.errors():
            name = "EXPORTA_" + "_".join(str(part) for part in error["loc"]).upper()
            print(message("errors.bad_setting", name=name, reason=error["msg"]), file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `exporta status | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
