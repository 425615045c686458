"""The packaged all-MiniLM-L6-v2 (extra 'local'), loaded offline."""

from __future__ import annotations

import pytest

from kotae.errors import ConfigError
from kotae.providers.embedders import LocalEmbedder, resolve_local_model

pytest.importorskip("sentence_transformers", reason="extra 'local' is not installed")
pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model() -> LocalEmbedder:
    return LocalEmbedder("sentence-transformers/all-MiniLM-L6-v2")


def test_packaged_model_embeds_offline(model: LocalEmbedder) -> None:
    import numpy as np

    assert (model.dimensions, model.languages, model.name) == (
        384,
        frozenset({"en"}),
        "local:all-minilm-l6-v2",
    )
    a, b, c = (
        np.array(v)
        for v in model.embed(["How do I reset my password?", "I forgot my password", "Shipping cut-off time"])
    )
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-4)
    assert float(a @ b) > float(a @ c) + 0.2


def test_model_loads_by_path(model: LocalEmbedder) -> None:
    path = resolve_local_model("all-MiniLM-L6-v2")
    assert path.endswith("model")
    by_path = LocalEmbedder(path)
    assert by_path.embed(["same"])[0] == pytest.approx(model.embed(["same"])[0], abs=1e-5)


def test_unknown_model_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="KOTAE_LOCAL_MODEL"):
        LocalEmbedder(str(tmp_path / "no-such-model"))
