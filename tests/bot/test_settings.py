"""Settings per layer, composed; and tests sealed from the developer's environment."""

import os

from bot.settings import AdminSettings, Settings, TelegramSettings, WebSettings, load_settings
from retrieval.settings import RetrievalSettings


def test_each_layer_declares_its_own_settings_and_the_composition_has_them_all():
    layers = [RetrievalSettings, WebSettings, TelegramSettings, AdminSettings]
    fields = [set(layer.model_fields) for layer in layers]
    assert "telegram_token" not in RetrievalSettings.model_fields
    assert "top_k" not in TelegramSettings.model_fields
    assert all(not (a & b) for i, a in enumerate(fields) for b in fields[i + 1 :])
    assert set().union(*fields) <= set(Settings.model_fields)


def test_the_same_variables_reach_every_layer(monkeypatch):
    monkeypatch.setenv("EXPORTA_TOP_K", "7")
    monkeypatch.setenv("EXPORTA_TELEGRAM_STAFF_IDS", "1, 2")
    settings = load_settings()
    assert (settings.top_k, settings.telegram_staff_ids) == (7, frozenset({1, 2}))


def test_a_developers_env_file_and_variables_do_not_reach_a_test(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("EXPORTA_TOP_K=9\nEXPORTA_ADMIN_TOKEN=secreto\n")
    monkeypatch.chdir(tmp_path)

    assert [n for n in os.environ if n.startswith("EXPORTA_")] == ["EXPORTA_ENV_FILE"]
    settings = load_settings()
    assert settings.top_k == 5 and not settings.admin_token.get_secret_value()


def test_the_sessions_shared_index_is_sealed_too(indexed):
    settings, _ = indexed
    assert settings.top_k == RetrievalSettings.model_fields["top_k"].default
