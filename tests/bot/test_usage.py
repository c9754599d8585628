"""The usage log over a real SQLite database: hashed ids, votes, retention, the report and its CLI."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text, update

from bot.cli import main
from bot.database import connect
from bot.settings import load_settings
from bot.usage import UsageLog, UsageUnavailable, source_ref
from bot.usage.grouping import group_similar
from bot.usage.tables import questions, votes
from prompts import message
from retrieval.contract import Answer, Source

# Every test runs on SQLite and on PostgreSQL (tests/conftest.py: on_both_databases).
pytestmark = pytest.mark.usefixtures("on_both_databases")

TELEGRAM_USER = 987654321
CLIENT_IP = "203.0.113.77"


def usage_settings(tmp_path, **changes):
    return load_settings(data_dir=tmp_path / "data", **changes)


def an_answer(question: str, abstained: bool = False, page: int | None = 12) -> Answer:
    sources = [
        Source(
            n=1,
            doc_id="perx-moquegua",
            title="PERX Moquegua",
            page=page,
            section="3. Metas",
            chunk_id="perx-c7",
            text="…",
            score=0.4,
        ),
        Source(
            n=2,
            doc_id="pnmce",
            title="PNMCE 2025",
            section="Anexo",
            chunk_id="pnmce-c2",
            text="…",
            score=0.2,
        ),
    ]
    text = "No encontré la respuesta en los documentos." if abstained else "Así es [1]."
    return Answer(question=question, answer=text, abstained=abstained, sources=sources)


def ask(log, question, *, channel="web", abstained=True, user=CLIENT_IP, at=None) -> int:
    """Record a question, dated `at` (UTC) if given."""
    question_id = log.record_question(
        channel=channel,
        user_id=user,
        question=question,
        answer=an_answer(question, abstained),
        latency_ms=250.0,
    )
    if at is not None:
        with connect(log.settings).begin() as conn:
            moment = at.astimezone(UTC).replace(tzinfo=None)
            conn.execute(
                update(questions).where(questions.c.id == question_id), {"asked_at": moment}
            )
    return question_id


def vote(log, question_id, value, question, *, user=TELEGRAM_USER, at=None) -> None:
    answer = an_answer(question)
    log.record_vote(
        channel="telegram",
        user_id=user,
        question_id=question_id,
        vote=value,
        question=question,
        answer_text=answer.answer,
        sources=[source_ref(s) for s in answer.sources],
    )
    if at is not None:
        with connect(log.settings).begin() as conn:
            last = conn.execute(select(votes.c.id).order_by(votes.c.id.desc())).scalar()
            moment = at.astimezone(UTC).replace(tzinfo=None)
            conn.execute(update(votes).where(votes.c.id == last), {"voted_at": moment})


def rows(settings, table) -> list:
    with connect(settings).connect() as conn:
        return conn.execute(select(table).order_by(table.c.id)).all()


def dump(settings) -> str:
    """Everything the usage log's tables hold, as text."""
    return "\n".join(
        str(tuple(row)) for table in (questions, votes) for row in rows(settings, table)
    )


# Recording


def test_questions_are_stored_with_user_ids_only_as_salted_hashes(tmp_path):
    settings = usage_settings(tmp_path)
    log = UsageLog(settings)
    first = ask(log, "¿Qué es la VUCE?", channel="telegram", abstained=False, user=TELEGRAM_USER)
    ask(log, "¿Qué es la VUCE?", user=CLIENT_IP)
    restarted = UsageLog(settings)  # the generated salt is read back: same person, same hash
    ask(restarted, "¿y el CERX?", channel="telegram", user=TELEGRAM_USER)

    telegram, web, again = rows(settings, questions)
    assert first == telegram.id
    assert (telegram.channel, telegram.question, telegram.abstained) == (
        "telegram",
        "¿Qué es la VUCE?",
        False,
    )
    assert (telegram.top_doc_id, telegram.top_page, telegram.top_chunk_id) == (
        "perx-moquegua",
        12,
        "perx-c7",
    )
    assert telegram.top_section == "3. Metas" and telegram.latency_ms == 250.0
    assert web.abstained is True and web.error is None
    assert telegram.user_hash == again.user_hash != web.user_hash
    assert len(telegram.user_hash) == 32
    everything = dump(settings)
    assert str(TELEGRAM_USER) not in everything and CLIENT_IP not in everything
    salt = settings.data_dir / "usage-salt"
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600

    configured = usage_settings(tmp_path / "otra", usage_salt=SecretStr("sal-de-produccion"))
    ask(UsageLog(configured), "¿Qué es la VUCE?", channel="telegram", user=TELEGRAM_USER)
    other = rows(configured, questions)[-1]  # on PostgreSQL, the same database
    assert other.user_hash != telegram.user_hash
    assert not (configured.data_dir / "usage-salt").exists()


def test_who_wrote_an_answer_and_the_sentences_the_guard_dropped_are_stored(tmp_path):
    log = UsageLog(usage_settings(tmp_path))
    written = an_answer("¿Qué es la VUCE?").model_copy(
        update={"written_by": "llm", "dropped_sentences": 2}
    )
    log.record_question(
        channel="web", user_id=CLIENT_IP, question=written.question, answer=written, latency_ms=9
    )
    ask(log, "¿y el CERX?")

    by_model, quoted = rows(log.settings, questions)
    assert (by_model.written_by, by_model.dropped_sentences) == ("llm", 2)
    assert (quoted.written_by, quoted.dropped_sentences) == ("quotes", 0)


def test_a_usage_log_of_an_older_version_gains_the_new_columns(tmp_path):
    settings = usage_settings(tmp_path)
    engine = connect(settings)
    postgres = engine.dialect.name == "postgresql"
    moment = "TIMESTAMP WITH TIME ZONE" if postgres else "VARCHAR(32)"
    ident = "SERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY"
    with engine.begin() as conn:  # the table as it was before written_by and dropped_sentences
        conn.execute(text(
            f"CREATE TABLE usage_questions (id {ident}, asked_at {moment} NOT NULL, "
            "channel VARCHAR(16) NOT NULL, user_hash VARCHAR(64), question TEXT NOT NULL, "
            "abstained BOOLEAN, error VARCHAR(64), top_doc_id VARCHAR(200), top_page INTEGER, "
            "top_section VARCHAR(500), top_chunk_id VARCHAR(200), latency_ms FLOAT)"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO usage_questions (asked_at, channel, question) "
            "VALUES ('2026-11-30 12:00:00.000000', 'web', '¿Qué es la VUCE?')"
        ))  # fmt: skip

    ask(UsageLog(settings), "¿y el CERX?")

    old, new = rows(settings, questions)
    assert (old.question, old.written_by) == ("¿Qué es la VUCE?", None)
    assert (new.question, new.written_by) == ("¿y el CERX?", "quotes")


def test_a_failed_answer_is_stored_with_its_error_kind(tmp_path):
    settings = usage_settings(tmp_path)
    log = UsageLog(settings)
    log.record_question(
        channel="web",
        user_id=None,
        question="x" * 5000,
        answer=None,
        latency_ms=3.0,
        error="InvalidQuestion",
    )
    [row] = rows(settings, questions)
    assert (row.error, row.abstained, row.user_hash, row.top_doc_id) == (
        "InvalidQuestion",
        None,
        None,
        None,
    )
    assert len(row.question) == 4000  # an oversized refused question is kept shortened


def test_votes_are_stored_linked_to_the_question_they_judge(tmp_path):
    settings = usage_settings(tmp_path)
    log = UsageLog(settings)
    question_id = ask(log, "¿Qué es la VUCE?", channel="telegram", user=TELEGRAM_USER)
    vote(log, question_id, -1, "¿Qué es la VUCE?")
    vote(log, None, 1, "¿Qué es la VUCE?", user=555)

    down, up = rows(settings, votes)
    [asked] = rows(settings, questions)
    assert (down.question_id, down.vote, up.question_id, up.vote) == (question_id, -1, None, 1)
    assert down.user_hash == asked.user_hash != up.user_hash
    assert down.question == "¿Qué es la VUCE?" and down.answer == "Así es [1]."
    assert [s["doc_id"] for s in down.sources] == ["perx-moquegua", "pnmce"]
    assert down.sources[0]["page"] == 12 and down.sources[1]["section"] == "Anexo"
    assert str(TELEGRAM_USER) not in dump(settings)
    with pytest.raises(ValueError):
        vote(log, question_id, 0, "¿Qué es la VUCE?")


@pytest.mark.sqlite_only  # its own, broken, SQLite URL
def test_a_database_that_is_down_is_logged_and_never_raises(tmp_path, caplog):
    not_a_file = tmp_path / "exporta.db"
    not_a_file.mkdir()  # SQLite cannot open it: like a database server that is down
    log = UsageLog(usage_settings(tmp_path, database_url=f"sqlite:///{not_a_file}"))

    assert ask(log, "¿Qué es la VUCE?") is None
    vote(log, None, -1, "¿Qué es la VUCE?")
    queued = log.submit_question(
        channel="web", user_id=CLIENT_IP, question="¿y el CERX?", answer=None, latency_ms=1.0
    )
    assert queued.result(timeout=30) is None
    log.purge_if_due()
    assert "question not recorded" in caplog.text and "vote not recorded" in caplog.text
    with pytest.raises(UsageUnavailable, match="registro de uso"):
        log.report()


# Retention


def test_purge_deletes_rows_older_than_the_retention_and_keeps_the_rest(tmp_path):
    settings = usage_settings(tmp_path, usage_retention_days=30)
    log = UsageLog(settings)
    now = datetime.now(UTC)
    old = ask(log, "pregunta vieja", at=now - timedelta(days=31))
    recent = ask(log, "pregunta reciente", at=now - timedelta(days=29))
    vote(log, old, -1, "pregunta vieja", at=now - timedelta(days=31))
    vote(log, old, 1, "pregunta vieja", at=now - timedelta(days=29))  # cast at the boundary
    vote(log, recent, -1, "pregunta reciente", at=now - timedelta(days=1))

    assert log.purge(now) == 2
    assert [r.question for r in rows(settings, questions)] == ["pregunta reciente"]
    kept = rows(settings, votes)
    assert [(v.question, v.question_id) for v in kept] == [
        ("pregunta vieja", None),  # its question is gone; the vote keeps its own copy
        ("pregunta reciente", recent),
    ]


def test_old_rows_are_purged_at_start_up_then_at_most_hourly(tmp_path):
    settings = usage_settings(tmp_path, usage_retention_days=30)
    log = UsageLog(settings)
    now = datetime.now(UTC)
    ask(log, "vieja 1", at=now - timedelta(days=40))  # its write purged before it was backdated

    restarted = UsageLog(settings)
    restarted.purge_if_due(now)  # what serve and telegram do at start-up
    assert rows(settings, questions) == []

    ask(log, "vieja 2", at=now - timedelta(days=40))
    restarted.purge_if_due(now + timedelta(minutes=30))
    assert [r.question for r in rows(settings, questions)] == ["vieja 2"]
    restarted.purge_if_due(now + timedelta(minutes=61))
    assert rows(settings, questions) == []


# The report


def test_similar_questions_group_but_a_different_product_or_topic_does_not():
    asked = [
        "¿Qué requisitos pide Japón para exportar palta?",
        "requisitos para exportar paltas a japon",
        "Cuáles son los REQUISITOS para exportar palta a Japón",
        "requsitos para exportar palta a japon!!",  # typo
        "requisitos para exportar mango a japon",
        "¿Cómo exportar café a Alemania?",
        "como exprotar cafe a alemania",  # typo
        "certificado de origen para China",
        "dónde tramito el certificado de origen",
        "donde se tramita el certificado de origen?",
        "¿qué es?",
        "Que es",
    ]
    groups = [[asked[i] for i in group] for group in group_similar(asked)]
    assert groups == [
        asked[0:4],
        asked[5:7],
        asked[8:10],
        asked[10:12],
        [asked[4]],
        [asked[7]],
    ]


LIMA_EVENING = datetime(2025, 3, 2, 3, 0, tzinfo=UTC)  # 1 March, 22:00 in Lima


def seed(log) -> dict[str, int]:
    """Unanswered, answered and voted questions over two days (in Lima time)."""
    day1, day2 = LIMA_EVENING, LIMA_EVENING + timedelta(hours=12)
    unanswered = [
        ("¿Qué requisitos pide Japón para exportar palta?", "telegram", day1),
        ("requisitos para exportar paltas a japon", "web", day1),
        ("Cuáles son los requisitos para exportar palta a Japón", "telegram", day2),
        ("REQUISITOS para exportar paltas a Japón!!", "web", day2),
        ("requisitos para exportar mango a japon", "web", day2),
        ("¿Cómo exportar café a Alemania?", "web", day1),
        ("como exprotar cafe a alemania", "telegram", day2),
    ]
    for question, channel, at in unanswered:
        ask(log, question, channel=channel, at=at)
    ids = {
        "vuce": ask(log, "¿Qué es la VUCE?", channel="telegram", abstained=False, at=day2),
        "appim": ask(log, "que es APPIM", abstained=False, at=day2),
    }
    vote(log, ids["vuce"], -1, "¿Qué es la VUCE?", at=day2)
    vote(log, ids["vuce"], -1, "¿Qué es la VUCE?", user=2, at=day2)
    vote(log, ids["vuce"], 1, "¿Qué es la VUCE?", user=3, at=day2)
    vote(log, ids["appim"], 1, "que es APPIM", at=day2)  # liked: not in the 👎 list
    vote(log, None, -1, "¿qué es el drawback?", at=day1)  # its question row never got written
    return ids


@pytest.fixture
def seeded(tmp_path):
    settings = usage_settings(tmp_path, usage_retention_days=36500)
    log = UsageLog(settings)
    return settings, log, seed(log)


def test_report_groups_unanswered_questions_and_lists_downvoted_answers(seeded):
    _, log, ids = seeded
    report = log.report()

    assert (report.questions, report.abstained, report.errors) == (9, 7, 0)
    assert (report.upvotes, report.downvotes) == (2, 3)
    palta, cafe, mango = report.unanswered
    assert palta.question == "REQUISITOS para exportar paltas a Japón!!"  # its wording twice
    assert palta.count == 4 and palta.channels == ["telegram", "web"]
    assert palta.last_asked == LIMA_EVENING + timedelta(hours=12)
    assert "¿Qué requisitos pide Japón para exportar palta?" in palta.variants
    assert (cafe.count, cafe.channels) == (2, ["telegram", "web"])
    assert (mango.question, mango.count) == ("requisitos para exportar mango a japon", 1)

    vuce, drawback = report.downvoted
    assert (vuce.question_id, vuce.downvotes, vuce.upvotes) == (ids["vuce"], 2, 1)
    assert vuce.answer == "Así es [1]." and vuce.sources[0]["doc_id"] == "perx-moquegua"
    assert (drawback.question_id, drawback.question) == (None, "¿qué es el drawback?")


def test_report_counts_questions_per_channel_per_lima_day_and_filters_by_date(seeded):
    _, log, _ = seeded
    daily = log.report().daily
    assert [(d.day, d.channels) for d in daily] == [
        (date(2025, 3, 1), {"telegram": 1, "web": 2}),  # 22:00 in Lima is 03:00 UTC next day
        (date(2025, 3, 2), {"telegram": 3, "web": 3}),
    ]

    since = log.report(since=date(2025, 3, 2))
    assert since.questions == 6 and [d.day for d in since.daily] == [date(2025, 3, 2)]
    assert [g.count for g in since.unanswered] == [2, 1, 1]
    assert [a.question for a in since.downvoted] == ["¿Qué es la VUCE?"]  # the drawback was day 1
    assert log.report(since=date(2025, 3, 3)).questions == 0


def test_report_to_dict_is_json_for_the_admin_page(seeded):
    _, log, ids = seeded
    data = json.loads(json.dumps(log.report(since=date(2025, 3, 1)).to_dict()))
    assert data["since"] == "2025-03-01" and data["channels"] == ["telegram", "web"]
    assert data["daily"][1] == {
        "day": "2025-03-02",
        "channels": {"telegram": 3, "web": 3},
        "total": 6,
    }
    assert data["unanswered"][0]["last_asked"] == "2025-03-02T15:00:00+00:00"
    assert data["downvoted"][0]["question_id"] == ids["vuce"]


def test_report_command_prints_a_spanish_report_and_json(seeded, capsys):
    settings, _, _ = seeded
    data_dir = str(settings.data_dir)
    assert main(["--data-dir", data_dir, "report"]) == 0
    out = capsys.readouterr().out
    assert "Preguntas: 9 · sin respuesta: 7 (78 %)" in out
    assert "  1. «REQUISITOS para exportar paltas a Japón!!»" in out
    assert "4 veces · telegram, web · última: 2025-03-02 10:00" in out
    assert "1 vez · web" in out
    assert "«¿Qué es la VUCE?» — 2 👎, 1 👍 · telegram" in out
    assert "Fuentes: PERX Moquegua, p. 12" in out  # the cited source only
    assert "Fuentes: PERX Moquegua, p. 12 · PNMCE 2025, Anexo" not in out
    assert "  2025-03-01         1    2      3" in out

    assert main(["--data-dir", data_dir, "report", "--json", "--since", "2025-03-02"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["questions"] == 6 and data["since"] == "2025-03-02"


@pytest.mark.sqlite_only  # the unreadable database is a SQLite file
def test_report_command_rejects_a_bad_date_and_an_unreadable_database(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), "report", "--since", "ayer"])
    assert caught.value.code == 2
    assert message("usage.since_invalid", value="ayer") in capsys.readouterr().err

    (tmp_path / "data" / "exporta.db").mkdir(parents=True)
    assert main(["--data-dir", str(tmp_path / "data"), "report"]) == 2
    assert message("usage.unavailable") in capsys.readouterr().err


def test_an_empty_log_reports_nothing_found(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path / "data"), "report"]) == 0
    out = capsys.readouterr().out
    assert "Preguntas: 0 · sin respuesta: 0 (0 %)" in out
    assert out.count(message("usage.none")) == 3
