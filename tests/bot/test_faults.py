"""Faults of a deployment on PostgreSQL: the database server goes away mid-run and comes back."""

from __future__ import annotations

import logging

import postgres as pg
import pytest
from fastapi.testclient import TestClient

from bot.usage import UsageLog
from bot.web import create_app

QUESTION = "cuantos productores de oregano deben capacitarse en secado?"


@pytest.fixture
def own_cluster(postgres):  # needs PostgreSQL installed, as the session's cluster does
    with pg.Cluster() as cluster:
        yield cluster


def test_the_database_going_away_never_stops_answers_and_readyz_says_so(
    service, indexed, own_cluster, caplog
):
    settings = indexed[0].model_copy(update={"database_url": own_cluster.new_database()})
    usage = UsageLog(settings)
    with TestClient(create_app(service, settings, usage=usage)) as client:
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
        assert client.get("/readyz").json()["status"] == "ok"

        own_cluster.stop()  # the database server dies
        with caplog.at_level(logging.ERROR):
            down = client.post("/api/ask", json={"question": QUESTION})
            usage.flush(timeout=30)
            ready = client.get("/readyz")

        own_cluster.start()  # and comes back: nothing restarts
        again = client.post("/api/ask", json={"question": QUESTION})
        usage.flush(timeout=30)
        recovered = client.get("/readyz").json()

    assert down.status_code == 200 and not down.json()["abstained"]
    assert "question not recorded" in caplog.text  # logged and dropped
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert "La base de datos no responde" in ready.json()["degraded"]["database"]
    assert again.status_code == 200 and recovered["status"] == "ok"
    assert usage.report().questions == 2  # before and after; the one while down was dropped
