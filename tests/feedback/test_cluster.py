"""Clustering: automatic k on separated groups, determinism, the other bucket."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from prodops_lib.feedback.cluster import (
    OTHER,
    cluster_embeddings,
    cosine_silhouette,
    neighbour_mean,
    smoothed_curve,
)


def _blobs(k: int = 6, per: int = 40, noise: float = 0.15, seed: int = 1):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, 32))
    truth = np.repeat(np.arange(k), per)
    vectors = centres[truth] + noise * rng.standard_normal((k * per, 32))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), truth


def test_automatic_k_finds_well_separated_groups():
    vectors, truth = _blobs()
    result = cluster_embeddings(vectors, k_min=2, k_max=20, k_candidates=10, seed=0)
    assert result.k == 6
    assert adjusted_rand_score(truth, result.labels) == 1.0
    assert result.quality.loc[result.quality["chosen"], "k"].tolist() == [6]


def test_same_seed_gives_the_same_partition():
    vectors, _ = _blobs(k=8, noise=0.6)
    first = cluster_embeddings(vectors, k_min=3, k_max=15, seed=3)
    second = cluster_embeddings(vectors, k_min=3, k_max=15, seed=3)
    assert np.array_equal(first.labels, second.labels)
    assert first.quality.equals(second.quality)


def test_fixed_k_and_small_groups_go_to_other():
    vectors, _ = _blobs(k=3, per=30)
    stray = np.eye(32)[:2]  # two points far from every group
    result = cluster_embeddings(np.vstack([vectors, stray]), n_themes=5, min_theme_size=5, seed=0)
    assert not result.automatic and result.k == 5
    assert (result.labels[-2:] == OTHER).all()
    assert result.n_themes == 3
    assert "fewer than 5 items" in set(result.groups["reason"])
    assert (result.groups["theme_id"] == OTHER).sum() == 2


def test_cosine_silhouette_matches_sklearn():
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((3, 8))
    labels = np.repeat([0, 1, 2, 3], [20, 25, 14, 1])  # group 3 is one point alone: it scores 0
    vectors = np.vstack([centres[labels[:59]] + 0.5 * rng.standard_normal((59, 8)), rng.standard_normal((1, 8))])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # reference: sklearn.metrics.silhouette_score(vectors, labels, metric="cosine") = 0.3565667937411335
    assert cosine_silhouette(vectors, labels) == pytest.approx(0.3565667937411335, rel=1e-9)
    from sklearn.metrics import silhouette_score

    assert cosine_silhouette(vectors, labels) == pytest.approx(silhouette_score(vectors, labels, metric="cosine"), rel=1e-9)
    with pytest.raises(ValueError, match="two groups"):
        cosine_silhouette(vectors, np.zeros(60))


def test_smoothed_curve_is_the_gaussian_weighted_mean_in_log_k():
    # closed form at k = 20 with h = 0.2: weights exp(-(ln 2)^2 / 0.08) = 0.002444 for k = 10 and 40
    weight = np.exp(-np.log(2) ** 2 / 0.08)
    expected = (0.1 * weight + 0.3 + 0.2 * weight) / (1 + 2 * weight)
    curve = smoothed_curve(np.array([10, 20, 40]), np.array([0.1, 0.3, 0.2]), bandwidth=0.2)
    assert curve[1] == pytest.approx(expected, rel=1e-12)
    assert curve[1] == pytest.approx(0.2992642004883568, rel=1e-12)


def test_neighbour_mean_averages_the_nearest_vectors():
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    smoothed = neighbour_mean(vectors, 2)
    # row 0: mean of itself and row 1 = (0.9, 0.3), normalised
    assert smoothed[0] == pytest.approx(np.array([0.9, 0.3]) / np.hypot(0.9, 0.3), rel=1e-6)


def test_too_few_items_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 items"):
        cluster_embeddings(np.eye(2))
