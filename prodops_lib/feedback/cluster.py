"""Group embedded feedback into themes: k-means on centred, neighbour-smoothed unit vectors,
with the number of themes chosen by a smoothed cosine-silhouette curve, and weak groups moved
to "other".

1. **Centring.** The corpus mean is subtracted and the vectors renormalised. Sentence
   embeddings share a large common direction (Mu & Viswanath 2018, "All-but-the-top"), which
   squeezes every cosine towards 1; without it the differences between topics are small
   next to it.
2. **Neighbour smoothing.** Each vector is replaced by the normalised mean of itself and its
   ``neighbour_smoothing − 1`` nearest neighbours (cosine). One mean-shift step (Fukunaga &
   Hostetler 1975; Comaniciu & Meer 2002) with a k-nearest-neighbour window: it pulls short,
   noisy texts towards the centre of what they are about. Above ``EXACT_LIMIT`` texts the
   neighbours are searched within cells of a coarse k-means partition, so the cost stays
   linear in the number of texts.
3. **Choosing k.** For ``k_candidates`` values spread geometrically over [``k_min``,
   ``k_max``], k-means (k-means++, Arthur & Vassilvitskii 2007) runs on a seeded sample of at
   most ``selection_sample`` smoothed vectors, each candidate from its own seeded start, and
   the partition is scored by the mean silhouette (Rousseeuw 1987) of the centred vectors
   under cosine distance, s(i) = (b(i) − a(i)) / max(a(i), b(i)), a the mean distance to the
   own group and b to the nearest other group (computed exactly from group sums; see
   :func:`cosine_silhouette`). One k-means run is a noisy measurement of how good k is
   (a different start moves the silhouette by about ±0.008 on HWU64, as much as the
   difference between good and poor k), so the curve is smoothed with a Gaussian kernel of
   width ``BANDWIDTH`` in ln k (Nadaraya–Watson), which averages independent runs at
   neighbouring k, and the k with the highest smoothed silhouette wins. Both curves are kept
   for the report's appendix. Measured on HWU64 over six seeds, the raw arg-max chose k from
   49 to 74 where the smoothed one chose 55 to 67 (true k 64); over ten seeds it chose 164–182
   on CLINC150 (150 intents) and 49–67 on HWU64.
4. **Final partition.** k-means on every item's blend of its own centred vector (weight
   ``OWN_WEIGHT``) and its neighbour mean (weight 1), renormalised, started from the chosen
   candidate's centres. The blend keeps what is particular to each text that smoothing alone
   washes out; it added 0.03 adjusted Rand index on CLINC150 (none on HWU64) over the smoothed
   vectors alone.
   ``n_themes`` fixes k and skips the choice.
5. **Other.** Groups smaller than ``min_theme_size`` and groups whose coherence (mean cosine
   of members to their centre) lies more than ``incoherence_cutoff`` robust standard
   deviations (1.4826 × MAD) below the median group go to "other" (label −1), reported with
   the reason.

Themes are numbered by size (0 is the largest). The same input and seed give the same
partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.feedback.embed import unit_vectors

__all__ = ["BANDWIDTH", "EXACT_LIMIT", "OTHER", "OWN_WEIGHT", "Clustering", "cluster_embeddings",
           "cosine_silhouette", "layout_2d", "neighbour_mean", "smoothed_curve"]

OTHER = -1
EXACT_LIMIT = 20_000
BANDWIDTH = 0.3
OWN_WEIGHT = 2.0
_CELL_SIZE = 2_500


def cosine_silhouette(unit: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of unit vectors ``unit`` under cosine distance 1 − u·v, as
    ``sklearn.metrics.silhouette_score(metric="cosine")`` computes it (a point alone in its
    group scores 0), in O(n·k·d) instead of O(n²·d): the summed distance from u to a group G
    is |G| − u·Σ_G v, so the group sums are all that is needed."""
    groups, codes = np.unique(labels, return_inverse=True)
    if len(groups) < 2:
        raise ValueError("labels: the silhouette needs at least two groups")
    unit = np.asarray(unit, dtype=np.float64)
    sums = np.zeros((len(groups), unit.shape[1]))
    np.add.at(sums, codes, unit)
    sizes = np.bincount(codes).astype(float)
    dots = unit @ sums.T
    rows = np.arange(len(unit))
    own_size = sizes[codes]
    own = (own_size - 1 - (dots[rows, codes] - np.einsum("ij,ij->i", unit, unit))) / np.maximum(own_size - 1, 1)
    other = sizes - dots
    other /= sizes
    other[rows, codes] = np.inf
    nearest = other.min(axis=1)
    scores = (nearest - own) / np.maximum(np.maximum(own, nearest), 1e-12)
    scores[own_size == 1] = 0.0
    return float(scores.mean())


def neighbour_mean(vectors: np.ndarray, n_neighbors: int, seed: int = 0) -> np.ndarray:
    """Each unit vector replaced by the normalised mean of its ``n_neighbors`` nearest
    (cosine) vectors, itself included; see the module docstring."""
    vectors = unit_vectors(vectors)
    n = len(vectors)
    if n_neighbors <= 1 or n < 2:
        return vectors
    if n <= EXACT_LIMIT:
        groups = [np.arange(n)]
    else:
        from sklearn.cluster import KMeans

        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, EXACT_LIMIT, replace=False))
        cells = KMeans(math.ceil(n / _CELL_SIZE), n_init=1, random_state=seed).fit(vectors[sample])
        cell_of = cells.predict(vectors)
        groups = [np.flatnonzero(cell_of == c) for c in range(cells.n_clusters)]
    smoothed = np.empty_like(vectors)
    for members in groups:
        if not len(members):
            continue
        block_vectors = vectors[members]
        take = min(n_neighbors, len(members))
        for start in range(0, len(members), 2048):
            similarity = block_vectors[start:start + 2048] @ block_vectors.T
            nearest = np.argpartition(-similarity, take - 1, axis=1)[:, :take]
            smoothed[members[start:start + 2048]] = block_vectors[nearest].mean(axis=1)
    return unit_vectors(smoothed, in_place=True)


def smoothed_curve(k: np.ndarray, score: np.ndarray, bandwidth: float = BANDWIDTH) -> np.ndarray:
    """Nadaraya–Watson estimate of ``score`` at each ``k``: a Gaussian-weighted mean over the
    candidates with weights exp(−(ln k − ln k′)² / 2h²)."""
    log_k = np.log(np.asarray(k, dtype=float))
    weights = np.exp(-((log_k[:, None] - log_k[None, :]) ** 2) / (2 * bandwidth**2))
    return weights @ np.asarray(score, dtype=float) / weights.sum(axis=1)


@dataclass(frozen=True)
class Clustering:
    """Theme of every item (``labels``, −1 = other), the chosen k, the k-quality curve
    (``k, silhouette, smoothed, inertia, chosen``; empty when k was fixed) and every group's fate (``groups``: ``group, size,
    coherence, theme_id, reason``)."""

    labels: np.ndarray
    k: int
    automatic: bool
    quality: pd.DataFrame
    groups: pd.DataFrame
    seed: int

    @property
    def n_themes(self) -> int:
        return int((self.groups["theme_id"] >= 0).sum())

    @property
    def n_other(self) -> int:
        return int((self.labels == OTHER).sum())

    def to_frame(self) -> pd.DataFrame:
        """One row per item: its position and theme id."""
        return pd.DataFrame({"position": np.arange(len(self.labels)), "theme_id": self.labels})


def _candidates(k_min: int, k_max: int, count: int) -> list[int]:
    if count == 1 or k_min == k_max:
        return [k_max]
    return sorted({int(k) for k in np.rint(np.geomspace(k_min, k_max, count))})


def _kmeans(k: int, init: np.ndarray, copy: bool = True):
    from sklearn.cluster import KMeans

    return KMeans(k, init=init, n_init=1, max_iter=300, copy_x=copy)


def cluster_embeddings(
    vectors: np.ndarray,
    *,
    n_themes: int | None = None,
    k_min: int = 5,
    k_max: int = 40,
    k_candidates: int = 12,
    neighbour_smoothing: int = 10,
    selection_sample: int = 10_000,
    min_theme_size: int = 5,
    incoherence_cutoff: float = 3.0,
    seed: int = 0,
) -> Clustering:
    """Themes for unit ``vectors`` (n × d); see the module docstring for the method."""
    from sklearn.cluster import kmeans_plusplus

    vectors = unit_vectors(vectors)
    n = len(vectors)
    if n < 3:
        raise ValueError(f"vectors: need at least 3 items to find themes, got {n}")
    if not np.isfinite(vectors).all():
        raise ValueError("vectors: contain NaN or infinite values; embed the texts again")
    centred = unit_vectors(vectors - vectors.mean(axis=0), in_place=True)
    if not centred.any():
        raise ValueError("vectors: every text embeds to the same point; there are no themes to find")
    smoothed = neighbour_mean(centred, neighbour_smoothing, seed)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, selection_sample, replace=False)) if n > selection_sample else np.arange(n)
    if n_themes is not None:
        ks = [min(n_themes, len(sample) - 1)]
    else:
        upper = min(k_max, len(sample) - 1)
        ks = _candidates(min(k_min, upper), upper, k_candidates)
    starts = rng.integers(0, 2**31 - 1, len(ks))
    selection = smoothed[sample]
    # k-means++ seeding runs 2x faster in float64 (sklearn upcasts float32 distances in chunks);
    # Lloyd's iterations run faster in float32
    selection_64 = selection.astype(np.float64)
    scored = centred[sample].astype(np.float64)  # the silhouette's vectors, the same for every candidate
    rows, centres = [], {}
    for k, start in zip(ks, starts, strict=True):
        initial_centres, _ = kmeans_plusplus(selection_64, k, random_state=int(start))
        fit = _kmeans(k, init=initial_centres.astype(np.float32)).fit(selection)
        centres[k] = fit.cluster_centers_
        if n_themes is None and len(np.unique(fit.labels_)) > 1:
            rows.append({"k": k, "silhouette": cosine_silhouette(scored, fit.labels_),
                         "inertia": float(fit.inertia_)})
    quality = pd.DataFrame(rows, columns=["k", "silhouette", "smoothed", "inertia"])
    if n_themes is None:
        if quality.empty:
            raise ValueError("vectors: every text embeds to the same point; there are no themes to find")
        quality["smoothed"] = smoothed_curve(quality["k"].to_numpy(), quality["silhouette"].to_numpy())
        k = int(quality.sort_values(["smoothed", "k"], ascending=[False, True])["k"].iloc[0])
    else:
        k = ks[0]
    quality["chosen"] = quality["k"] == k
    blend = centred  # built in place: at 100,000 texts each copy is 150 MB
    blend *= OWN_WEIGHT
    blend += smoothed
    del smoothed, centred
    final = _kmeans(k, init=centres[k], copy=False).fit(unit_vectors(blend, in_place=True))
    labels, groups = _name_groups(vectors, final.labels_, min_theme_size, incoherence_cutoff)
    return Clustering(labels, k, n_themes is None, quality, groups, seed)


def _name_groups(vectors: np.ndarray, raw: np.ndarray, min_size: int, cutoff: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Move weak groups to other, number the rest by size (ties: earliest first member)."""
    ids = np.unique(raw)
    sizes = np.array([(raw == g).sum() for g in ids])
    first = np.array([np.flatnonzero(raw == g)[0] for g in ids])
    coherence = np.array([float((vectors[raw == g] @ unit_vectors(vectors[raw == g].mean(axis=0, keepdims=True))[0]).mean())
                          for g in ids])
    median = np.median(coherence)
    spread = 1.4826 * np.median(np.abs(coherence - median))
    reasons = np.full(len(ids), "", dtype=object)
    reasons[sizes < min_size] = f"fewer than {min_size} items"
    if spread > 0:
        incoherent = (coherence - median) / spread < -cutoff
        reasons[incoherent & (reasons == "")] = f"incoherent (coherence {cutoff:g}+ robust SDs below the median)"
    kept = np.flatnonzero(reasons == "")
    order = kept[np.lexsort((first[kept], -sizes[kept]))]
    theme_of = {int(ids[g]): rank for rank, g in enumerate(order)}
    labels = np.array([theme_of.get(int(g), OTHER) for g in raw], dtype=int)
    groups = pd.DataFrame({"group": ids.astype(int), "size": sizes, "coherence": coherence,
                           "theme_id": [theme_of.get(int(g), OTHER) for g in ids],
                           "reason": [r or "kept" for r in reasons]})
    return labels, groups.sort_values(["theme_id", "size"], ascending=[True, False]).reset_index(drop=True)


def layout_2d(vectors: np.ndarray, *, max_points: int = 2_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D map of the feedback for display: positions of a seeded sample of at most
    ``max_points`` items (t-SNE, van der Maaten & Hinton 2008, on 50 PCA components, cosine)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    vectors = unit_vectors(vectors)
    n = len(vectors)
    rng = np.random.default_rng(seed)
    shown = np.sort(rng.choice(n, max_points, replace=False)) if n > max_points else np.arange(n)
    reduced = vectors[shown]
    if reduced.shape[1] > 50 and len(shown) > 50:
        reduced = PCA(50, random_state=seed).fit_transform(reduced)
    if len(shown) < 5:
        return shown, np.zeros((len(shown), 2))
    perplexity = float(min(30, max(2, (len(shown) - 1) // 3)))
    coordinates = TSNE(2, perplexity=perplexity, init="pca", random_state=seed,
                       metric="cosine").fit_transform(reduced)
    return shown, coordinates
