"""Clustering: automatic k on separated groups, two levels, small issues split out, determinism,
the other bucket, and the criteria against their references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from prodops_lib.feedback.cluster import (
    OTHER,
    choose_k,
    cluster_embeddings,
    cosine_silhouette,
    k_sequence,
    modularity,
    neighbour_mean,
    smoothed_curve,
    snn_graph,
)


def _blobs(k: int = 6, per: int = 40, noise: float = 0.15, seed: int = 1):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, 32))
    truth = np.repeat(np.arange(k), per)
    vectors = centres[truth] + noise * rng.standard_normal((k * per, 32))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), truth


def test_automatic_k_finds_well_separated_groups():
    vectors, truth = _blobs()
    result = cluster_embeddings(vectors, seed=0)
    assert result.k == 6 and result.n_issues == 6
    assert adjusted_rand_score(truth, result.issue_ids) == 1.0
    assert result.quality.loc[result.quality["chosen"], "k"].tolist() == [6]
    # the search went past the answer and stopped by itself, far below its ceiling (240 / 5 = 48)
    assert 6 < result.quality["k"].max() < 48 and result.note == ""


def test_same_seed_gives_the_same_partition():
    vectors, _ = _blobs(k=8, noise=0.6)
    first = cluster_embeddings(vectors, seed=3)
    second = cluster_embeddings(vectors, seed=3)
    assert np.array_equal(first.issue_ids, second.issue_ids)
    assert np.array_equal(first.theme_of_issue, second.theme_of_issue)
    assert first.quality.equals(second.quality)


def test_fixed_k_and_small_groups_go_to_other():
    vectors, _ = _blobs(k=3, per=30)
    stray = np.eye(32)[:2]  # two points far from every group
    result = cluster_embeddings(np.vstack([vectors, stray]), n_issues=5, min_issue_size=5, seed=0)
    assert not result.automatic and result.k == 5
    assert (result.issue_ids[-2:] == OTHER).all()
    assert result.n_issues == 4  # one of the three groups halved: k is fixed at 5 and the strays are two
    assert "fewer than 5 items" in set(result.groups["reason"])
    assert (result.groups["issue_id"] == OTHER).sum() == 2


def _nested_blobs(themes: int = 6, issues_per_theme: int = 3, per: int = 30, seed: int = 2):
    """Issues around theme centres: each issue centre = its theme centre + a smaller offset."""
    rng = np.random.default_rng(seed)
    theme_centres = rng.standard_normal((themes, 48))
    issue_centres = np.repeat(theme_centres, issues_per_theme, axis=0) + 0.45 * rng.standard_normal((themes * issues_per_theme, 48))
    issue = np.repeat(np.arange(themes * issues_per_theme), per)
    vectors = issue_centres[issue] + 0.12 * rng.standard_normal((len(issue), 48))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), issue, issue // issues_per_theme


def test_issues_and_themes_recover_a_two_level_truth():
    vectors, issue, theme = _nested_blobs()
    result = cluster_embeddings(vectors, seed=0)
    assert adjusted_rand_score(issue, result.issue_ids) == 1.0
    assert result.n_themes == 6
    assert adjusted_rand_score(theme, result.theme_ids) == 1.0
    # every issue lies wholly in one theme
    assert all(len(set(result.theme_ids[result.issue_ids == i])) == 1 for i in range(result.n_issues))
    assert result.theme_quality.loc[result.theme_quality["chosen"], "themes"].tolist() == [6]


def test_a_small_distinct_issue_absorbed_by_k_means_is_split_out():
    # twelve groups of 80 and one of 20 (2%): with k fixed too low at... automatic k, the small
    # group must come out as an issue of its own, whole and pure
    rng = np.random.default_rng(4)
    centres = rng.standard_normal((13, 32))
    truth = np.r_[np.repeat(np.arange(12), 80), np.full(20, 12)]
    vectors = centres[truth] + 0.35 * rng.standard_normal((len(truth), 32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    result = cluster_embeddings(vectors, seed=0)
    planted = result.issue_ids[truth == 12]
    found = np.bincount(planted[planted >= 0]).argmax()
    assert (planted == found).mean() >= 0.9
    assert (truth[result.issue_ids == found] == 12).mean() >= 0.9


def test_modularity_matches_networkx():
    import scipy.sparse as sp

    # a weighted graph: two triangles joined by one light edge, split into the triangles
    edges = [(0, 1, 1.0), (1, 2, 2.0), (0, 2, 1.0), (3, 4, 1.0), (4, 5, 1.0), (3, 5, 3.0), (2, 3, 0.5)]
    rows, cols, weights = zip(*edges, strict=True)
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=(6, 6))
    matrix = (matrix + matrix.T).tocsr()
    degrees = np.asarray(matrix.sum(axis=1)).ravel()
    labels = np.array([0, 0, 0, 1, 1, 1])
    # reference: networkx.community.modularity(G, [{0, 1, 2}, {3, 4, 5}], weight="weight") = 0.4418282548476453
    assert modularity(matrix, degrees, labels) == pytest.approx(0.4418282548476453, rel=1e-12)
    networkx = pytest.importorskip("networkx")
    graph = networkx.Graph()
    graph.add_weighted_edges_from(edges)
    assert modularity(matrix, degrees, labels) == pytest.approx(
        networkx.community.modularity(graph, [{0, 1, 2}, {3, 4, 5}], weight="weight"), rel=1e-12)


def test_snn_graph_weighs_edges_by_shared_neighbours():
    # four points on a line of angles; with 1 neighbour each, 0↔1 and 2↔3 are mutual neighbours
    angles = np.array([0.0, 0.1, 1.0, 1.1])
    unit = np.column_stack([np.cos(angles), np.sin(angles)])
    weights, degrees = snn_graph(unit, 1)
    dense = weights.toarray()
    # the sets {0, 1} and {1, 0} are equal: Jaccard 1; 2's nearest is 3 and 3's is 2: Jaccard 1
    assert dense[0, 1] == dense[1, 0] == 1.0 and dense[2, 3] == 1.0
    assert dense[0, 2] == dense[1, 2] == 0.0
    assert degrees.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_k_sequence_has_four_candidates_per_doubling_and_no_other_ceiling():
    assert k_sequence(16) == [2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 16]
    assert k_sequence(2) == [2]
    assert k_sequence(1000)[-1] == 1000


def test_choose_k_takes_the_sharpest_count_inside_the_modularity_plateau():
    # silhouette rises for ever (it alone would take the largest k); modularity peaks at 40
    k = np.array([5, 10, 20, 40, 80, 160, 320])
    quality = pd.DataFrame({"k": k, "silhouette": np.linspace(0.1, 0.4, len(k)),
                            "modularity": [0.70, 0.80, 0.86, 0.88, 0.87, 0.80, 0.70]})
    chosen = choose_k(quality, tolerance=0.025)
    assert chosen.loc[chosen["plateau"], "k"].tolist() == [20, 40, 80]
    assert chosen.loc[chosen["chosen"], "k"].tolist() == [80]


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
