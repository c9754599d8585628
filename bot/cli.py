"""`exporta`: the command line, and the composition root (settings -> store -> service -> channel)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path

from bot.compose import (
    give_staff_jobs,
    index_service,
    job_runner,
    open_store,
    open_usage_log,
    web_app,
)
from prompts import message
from retrieval.contract import Answer, Turn
from retrieval.errors import ExportaError
from retrieval.settings import Settings, load_settings

logger = logging.getLogger("exporta")

EXIT_FAILED_DOCUMENTS = 1
EXIT_USER_ERROR = 2
DEFAULT_TRAIN_GOLD = Path("../shared/eval/train.jsonl")

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


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(data_dir=getattr(args, "data_dir", None))


def cmd_ingest(args: argparse.Namespace) -> int:
    from bot.admin.jobs import cli_actor

    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [settings.corpus_dir]
    if args.quiet:
        logging.getLogger("ingest.progress").setLevel(logging.WARNING)
    # The staff's job runner: one re-index at a time, versions and audit recorded.
    report = job_runner(settings).ingest_now(
        paths,
        cli_actor(),
        rebuild=args.rebuild,
        progress=False if args.quiet else None,
        reuse_vectors=not args.recompute_vectors,
    )
    for path, reason in report.failed:
        print(f"ERROR {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return EXIT_FAILED_DOCUMENTS if report.failed else 0


def cmd_remove(args: argparse.Namespace) -> int:
    from bot.admin.jobs import cli_actor

    runner = job_runner(_settings(args))
    job = runner.wait(runner.remove_document(args.doc_id, cli_actor()).id)
    if job.state != "succeeded":
        print(f"Error: {job.summary}", file=sys.stderr)
        return EXIT_FAILED_DOCUMENTS
    print(message("admin.remove_done", doc_id=args.doc_id, job_id=job.id))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from bot.admin.history import render_history

    settings = _settings(args)
    print(render_history(settings, index_service(settings), args.doc_id))
    return 0


def cmd_vectors(args: argparse.Namespace) -> int:
    settings = _settings(args)
    folder = Path(args.folder) if args.folder else settings.corpus_dir
    if not folder.is_dir():
        print(f"Error: {folder}: {message('ingest.missing_path')}", file=sys.stderr)
        return EXIT_USER_ERROR
    index = index_service(settings)
    path, written = index.export_vectors(folder)
    print(
        message("ingest.vectors_written", path=path, count=written, embedded=index.vectors.embedded)
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    store = open_store(_settings(args))
    manifest = store.manifest()
    print(f"Índice: {store.location}")
    print(f"Modelo de embeddings: {store.embedding_model() or '(índice vacío)'}")
    print(f"Documentos: {len(manifest)} · fragmentos: {sum(r.chunks for r in manifest.values())}")
    for record in sorted(manifest.values(), key=lambda r: r.doc_id):
        print(
            f"- {record.doc_id}: {record.title} [{record.kind}, {record.year or 's/f'}] "
            f"{record.chunks} fragmentos · sha256 {record.content_hash[:12]} · "
            f"indexado {record.indexed_at}"
        )
    return 0


def render_answer(answer: Answer) -> str:
    lines = [answer.answer, "", message("answer.sources_heading")]
    for source in answer.sources:
        lines.append(f"[{source.n}] {source.citation()}")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from retrieval.service import AnswerService, validate_question

    settings = _settings(args)
    if args.question not in (None, "-"):
        validate_question(args.question, settings)  # before loading the index and the model
    service = AnswerService.from_settings(settings)
    if args.question == "-" or (args.question is None and not sys.stdin.isatty()):
        return _ask_lines(service, sys.stdin, args)
    if args.question is None:
        return _ask_interactive(service, args)
    answer = service.answer(args.question, k=args.k)
    print(
        json.dumps(answer.model_dump(), ensure_ascii=False, indent=2)
        if args.json
        else render_answer(answer)
    )
    return 0


def _ask_lines(service, stream, args: argparse.Namespace) -> int:
    """One question per input line; with --json, one JSON object per output line."""
    status = 0
    for line in stream:
        if not line.strip():
            continue
        try:
            answer = service.answer(line, k=args.k)
        except ExportaError as exc:
            status = EXIT_USER_ERROR
            out = {"question": line.strip(), "error": str(exc)}
            print(json.dumps(out, ensure_ascii=False) if args.json else str(exc), flush=True)
            continue
        if args.json:
            print(json.dumps(answer.model_dump(), ensure_ascii=False), flush=True)
        else:
            print(render_answer(answer) + "\n", flush=True)
    return status


def _ask_interactive(service, args: argparse.Namespace) -> int:
    print("Exporta · pregunta sobre los documentos de exportación (Ctrl+D para salir).")
    history: list[Turn] = []
    while True:
        try:
            question = input("\n¿Pregunta? > ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question.strip():
            continue
        try:
            answer = service.answer(question, history, k=args.k)
        except ExportaError as exc:
            print(exc)
            continue
        history = service.continued(history, answer)
        print(render_answer(answer))


def _gold_service(args: argparse.Namespace):
    """The gold file and the service that answers it, or None (said on stderr) without the file."""
    from retrieval.service import AnswerService

    gold = Path(args.gold)
    if not gold.is_file():
        print(f"Error: {gold}: {message('ingest.missing_path')}", file=sys.stderr)
        return None
    return gold, AnswerService.from_settings(_settings(args))


def cmd_eval(args: argparse.Namespace) -> int:
    from retrieval.evaluation import evaluate

    if (found := _gold_service(args)) is None:
        return EXIT_USER_ERROR
    gold, service = found
    if args.folds:
        from retrieval.training import cross_validate, load_examples

        examples = load_examples(service, gold, progress=not args.json)
        report = cross_validate(examples, args.folds)
    else:
        report = evaluate(service, gold, k=args.k)
    print(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.table()
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from retrieval.policy import POLICY_FILE
    from retrieval.training import cross_validate, fit_policy, load_examples

    if (found := _gold_service(args)) is None:
        return EXIT_USER_ERROR
    gold, service = found
    examples = load_examples(service, gold, progress=True)
    if args.folds:
        print(f"Validación cruzada en {args.folds} partes de {gold.name}:")
        print(cross_validate(examples, args.folds).table())
    policy = fit_policy(examples)
    policy.meta.update(gold=gold.name, embedding_model=service.embedder.identity)
    output = args.output or POLICY_FILE
    policy.save(output)
    print(f"Política guardada en {output} ({len(examples)} preguntas).")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.data_dir:  # worker processes read their settings from the environment
        os.environ["EXPORTA_DATA_DIR"] = str(Path(args.data_dir).resolve())
    settings = load_settings(host=args.host, port=args.port, workers=args.workers)
    log_level = "info" if args.verbose else "warning"
    url = f"http://{settings.host}:{settings.port}/"
    print(f"Exporta en {url} (API en {url}docs). Ctrl+C para detener.", flush=True)
    if settings.workers > 1:
        uvicorn.run("bot.compose:web_app", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, log_level=log_level)  # fmt: skip
    else:
        uvicorn.run(web_app(settings), host=settings.host, port=settings.port, log_level=log_level)
    return 0


def cmd_telegram(args: argparse.Namespace) -> int:
    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot.telegram import build_application
    from bot.telegram.redaction import redact_secrets_in_logs
    from retrieval.errors import ConfigurationError
    from retrieval.service import AnswerService

    settings = _settings(args)
    token = settings.telegram_token.get_secret_value()
    if not token:
        raise ConfigurationError("telegram.token_missing")
    redact_secrets_in_logs(token, settings.telegram_webhook_secret.get_secret_value())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs request URLs, token included
    service = AnswerService.from_settings(settings)
    application = build_application(service, settings, usage=open_usage_log(settings))
    if settings.telegram_staff_ids:
        give_staff_jobs(application, settings, job_runner(settings, on_commit=service.refresh))
    print(message("telegram.polling_started"), file=sys.stderr, flush=True)
    try:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken as exc:
        raise ConfigurationError("telegram.token_invalid") from exc
    except NetworkError as exc:  # unreachable at start-up; later network errors are retried
        url = settings.telegram_base_url or "https://api.telegram.org"
        raise ConfigurationError("telegram.unreachable", url=url, reason=exc) from exc
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bot.usage import UsageLog

    report = UsageLog(_settings(args)).report(args.since)
    print(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
        if args.json
        else report.to_text()
    )
    return 0


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
    return parser


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
    except BrokenPipeError:  # `exporta status | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
