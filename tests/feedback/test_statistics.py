"""Every statistic of the feedback analysis against an independent reference value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from prodops_lib.feedback.describe import class_tfidf, map_to_taxonomy, theme_labels
from prodops_lib.feedback.trends import benjamini_hochberg, rate_ratio_test


def test_class_tfidf_matches_a_worked_example():
    # Class A "apple apple banana" (3 terms), class B "banana cherry" (2); A = 2.5 terms/class.
    # W(apple, A) = 2/3·ln(1 + 2.5/2); W(cherry, B) = 1/2·ln(1 + 2.5/1): worked by hand.
    weights, terms = class_tfidf(["apple apple banana", "banana cherry"], ngram_range=(1, 1), stop_words=None)
    assert list(terms) == ["apple", "banana", "cherry"]
    assert weights[0, 0] == pytest.approx(2 / 3 * math.log(2.25), rel=1e-12)
    assert weights[0, 0] == pytest.approx(0.5406201441442191, rel=1e-12)
    assert weights[0, 1] == pytest.approx(0.27031007207210955, rel=1e-12)
    assert weights[1, 1] == pytest.approx(0.4054651081081644, rel=1e-12)
    assert weights[1, 2] == pytest.approx(0.626381484247684, rel=1e-12)
    assert weights[0, 2] == 0.0


def test_theme_labels_take_the_heaviest_terms_and_skip_words_inside_bigrams():
    weights = np.array([[0.9, 0.5, 0.4, 0.1]])
    terms = np.array(["csv export", "export", "columns", "drops"])
    assert theme_labels(weights, terms) == ["csv export / columns / drops"]


def test_growth_p_value_equals_scipy_binomtest():
    # scipy.stats.binomtest(30, 75, 0.25, alternative="greater").pvalue = 0.003019763592020062,
    # also statsmodels test_poisson_2indep(30, 500, 45, 1500, method="exact-cond", alternative="larger").
    growth, decline = rate_ratio_test(30, 500, 45, 1500)
    assert growth == pytest.approx(0.003019763592020062, rel=1e-9)
    assert decline > 0.99


def test_decline_p_value_equals_scipy_binomtest():
    # scipy.stats.binomtest(5, 60, 0.25, alternative="less").pvalue = 0.0009561287427761049
    _, decline = rate_ratio_test(5, 100, 55, 300)
    assert decline == pytest.approx(0.0009561287427761049, rel=1e-9)


def test_rate_ratio_test_rejects_counts_above_their_totals():
    with pytest.raises(ValueError, match="cannot exceed"):
        rate_ratio_test(10, 5, 1, 100)


def test_benjamini_hochberg_equals_statsmodels():
    # statsmodels multipletests([0.01, 0.04, 0.03, 0.2, 0.005], method="fdr_bh")[1]
    adjusted = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2, 0.005]))
    assert adjusted == pytest.approx([0.025, 0.05, 0.05, 0.2, 0.025], rel=1e-12)


def test_rand_index_and_nmi_on_a_tiny_partition():
    # sklearn: ARI([0,0,1,1,2,2], [0,0,1,2,2,2]) = 4/9 (Hubert & Arabie 1985, by hand: index 4, expected 2.2, max 6.5)
    assert adjusted_rand_score([0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 2, 2]) == pytest.approx(4 / 9, rel=1e-12)
    assert normalized_mutual_info_score([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)


def test_mapping_uses_cosine_and_leaves_far_themes_unmapped():
    centres = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    themes = np.array([[0.8, 0.6], [0.0, 1.0]])
    names, score = map_to_taxonomy(centres, themes, ["A", "B"], min_similarity=0.5)
    assert names == ["A", "B", "unmapped"]
    assert score == pytest.approx([0.8, 1.0, 0.0])
