"""Clustering: automatic k on separated groups, determinism, the other bucket."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from prodops_lib.feedback.cluster import OTHER, cluster_embeddings, neighbour_mean


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


def test_neighbour_mean_averages_the_nearest_vectors():
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    smoothed = neighbour_mean(vectors, 2)
    # row 0: mean of itself and row 1 = (0.9, 0.3), normalised
    assert smoothed[0] == pytest.approx(np.array([0.9, 0.3]) / np.hypot(0.9, 0.3), rel=1e-6)


def test_too_few_items_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 items"):
        cluster_embeddings(np.eye(2))
