"""The `exporta` commands: each turns its arguments into calls on what bot/compose.py builds."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from bot.compose import (
    index_service,
    job_runner,
    open_store,
    open_usage_log,
    web_app,
)
from bot.settings import Settings, load_settings
from prompts import message
from retrieval.contract import Answer, Turn
from retrieval.errors import ExportaError

EXIT_FAILED_DOCUMENTS = 1
EXIT_USER_ERROR = 2
DEFAULT_TRAIN_GOLD = Path("../shared/eval/train.jsonl")


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
    if not answer.sources:  # a question off the documents' subject cites nothing
        return answer.answer
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
    from retrieval.evaluation import evaluate, split_means, splits_table

    if (found := _gold_service(args)) is None:
        return EXIT_USER_ERROR
    gold, service = found
    if not args.folds:
        report = evaluate(service, gold, k=args.k)
        print(_as_json(report.to_dict()) if args.json else report.table())
        return 0
    from retrieval.training import SPLIT_SEEDS, cross_validate, load_examples

    examples = load_examples(service, gold, progress=not args.json)
    # The questions are retrieved once; each split refits the policy on its folds.
    seeds = SPLIT_SEEDS[: args.splits]
    reports = {seed: cross_validate(examples, args.folds, seed=seed) for seed in seeds}
    first = reports[seeds[0]]
    if args.json:
        several = {
            "splits": {s: r.to_dict() for s, r in reports.items()},
            "mean": split_means(reports),
        }
        print(_as_json(first.to_dict() if len(reports) == 1 else several))
        return 0
    print(first.table())
    if len(reports) > 1:
        print(
            f"\n(la tabla es del reparto {seeds[0]}) Los {len(reports)} repartos en {args.folds} partes:"
        )
        print(splits_table(reports))
    return 0


def _as_json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


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
    url = f"http://{settings.host}:{settings.port}/"
    print(f"Exporta en {url} (API en {url}docs). Ctrl+C para detener.", flush=True)
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info" if args.verbose else "warning",
        # The client is the connection's peer unless a named proxy says otherwise: a forged
        # X-Forwarded-For must not dodge the rate limit nor write another address in the audit.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or "",
    }
    if settings.workers > 1:
        uvicorn.run("bot.compose:web_app", factory=True, workers=settings.workers, **options)
    else:
        uvicorn.run(web_app(settings), **options)
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
    service = AnswerService.from_settings(settings, warm=True)
    jobs = job_runner(settings, on_commit=service.refresh) if settings.telegram_staff_ids else None
    application = build_application(service, settings, usage=open_usage_log(settings), jobs=jobs)
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
