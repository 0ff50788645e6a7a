"""Names a PM can read and quotes chosen for coverage (prodops_lib.feedback.naming)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from prodops_lib.feedback.naming import coverage_quotes, group_names, typical_quote, typical_quotes
from prodops_lib.feedback.prepare import shingle_similarity
from prodops_lib.privacy import REDACTION_LABELS

FEEDBACK = {
    "card arrival": [
        "My card hasn't arrived yet", "card hasn't arrived after two weeks", "The new card hasn't arrived",
        "still waiting, my card hasn't arrived", "Why hasn't my card arrived?",
        "I ordered a card and it hasn't arrived", "card has not arrived in the post",
        "my card hasn't arrived, what now"],
    "card declined": [
        "My card was declined at the shop", "card declined when paying online", "Why was my card declined?",
        "card got declined at the supermarket", "my card keeps getting declined",
        "the card was declined twice today", "card declined at a petrol station", "Payment failed, card declined"],
    "payment failed": [
        "The payment didn't go through", "my payment didn't go through again", "payment didn't go through yesterday",
        "Why didn't the payment go through?", "the payment didn't go through and I was charged",
        "payment didn't go through on the app", "tried twice, payment didn't go through",
        "Payment didn't go through at checkout"],
    "sign-ups": [
        "Sign-ups dropped after the redesign", "new sign-ups are down this month", "sign-ups fell sharply this week",
        "fewer sign-ups since the pricing change", "our sign-ups dropped by half", "sign-ups dropped again",
        "trial sign-ups are way down", "Sign-ups dropped after launch"],
    "export slow": [
        "Export to CSV is slow", "export to CSV is very slow for big reports", "the export to CSV is slow again",
        "Export to CSV takes forever", "export to CSV is slow since Monday", "why is export to CSV so slow",
        "export to CSV is painfully slow", "Export to CSV slow on large tables"],
    "export fails": [
        "Export to CSV fails with an error", "export to CSV fails every time", "the export to CSV failed again",
        "Export to CSV fails on large tables", "export to CSV fails with error 500", "export to CSV fails silently",
        "Export to CSV fails for admins", "export to CSV fails after the update"],
}
TOPICS = list(FEEDBACK)
TEXTS = [text for texts in FEEDBACK.values() for text in texts]
GROUPS = np.repeat(np.arange(len(FEEDBACK)), [len(texts) for texts in FEEDBACK.values()])
WORD = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")
FUNCTION_WORDS = {"a", "an", "the", "to", "is", "was", "my", "of", "in", "on", "at", "for", "and"}


def _words(name: str) -> list[str]:
    return [w.lower() for w in WORD.findall(name)]


def _key_words(name: str) -> set[str]:
    return {w.removesuffix("s") for w in _words(name)} - FUNCTION_WORDS


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    return dict(zip(TOPICS, group_names(TEXTS, GROUPS), strict=True))


def test_names_keep_words_with_apostrophes_and_hyphens_whole(names):
    # the c-TF-IDF labels cut these into "didn" and "ups"
    assert "didn't" in _words(names["payment failed"])
    assert "sign-ups" in _words(names["sign-ups"])
    assert "hasn't" in _words(names["card arrival"])
    for name in names.values():
        assert not {"didn", "hasn", "ups", "sign", "t"} & set(_words(name)), name


def test_names_are_short_phrases_in_sentence_case_not_word_lists(names):
    for name in names.values():
        assert " / " not in name and "," not in name
        assert 2 <= len(_words(name)) <= 5, name
        assert name[0].isupper() and name[1:] == name[1:].replace("Card", "card"), name
    for name in group_names(TEXTS, GROUPS, max_words=3):
        assert 1 <= len(_words(name)) <= 3, name


def test_names_are_wordings_found_in_the_groups_own_texts(names):
    for topic, name in names.items():
        assert any(name.lower() in text.lower() for text in FEEDBACK[topic]), (topic, name)


def test_sibling_names_differ_when_groups_share_their_dominant_words(names):
    # "card" dominates two groups and "export to CSV" two others: each name must tell its
    # group apart, not just be a different string
    assert "arrived" in _words(names["card arrival"]) and "declined" in _words(names["card declined"])
    assert "slow" in _words(names["export slow"]) and "fails" in _words(names["export fails"])
    for first, second in (("card arrival", "card declined"), ("export slow", "export fails")):
        a, b = _key_words(names[first]), _key_words(names[second])
        assert not a <= b and not b <= a, (names[first], names[second])


def test_groups_sharing_their_best_phrase_get_distinct_names_only_among_siblings():
    # both groups' best phrase alone is "Export to CSV is slow"; what tells them apart is a
    # detail in three texts of each
    base = FEEDBACK["export slow"]
    tables = [text + " on large tables" if i < 3 else text for i, text in enumerate(base)]
    admins = [text + " for admins" if i < 3 else text for i, text in enumerate(base)]
    groups = np.repeat([0, 1], len(base))
    themes = np.array(["reports", "admin"], dtype=object)  # as a pandas column gives them
    different_parents = group_names(tables + admins, groups, siblings=themes)
    assert different_parents == ["Export to CSV is slow", "Export to CSV is slow"]
    same_parent = group_names(tables + admins, groups)
    a, b = (_key_words(name) for name in same_parent)
    assert not a <= b and not b <= a, same_parent
    assert {"large", "table"} <= a or {"admin"} <= b, same_parent
    # groups with the very same texts have no honest distinct name: they are numbered
    twins = group_names(base * 2, groups)
    assert twins[0] != twins[1]


def test_redaction_placeholders_never_become_name_words():
    texts = ["please email me at [email] about the refund", "refund to [card] still missing [phone]",
             "where is my refund [email]", "refund missing, call [phone]",
             "[email]", "[email] [phone]", "[email]!"]
    groups = np.array([0, 0, 0, 0, 1, 1, 1])
    refund, contact_only = group_names(texts, groups)
    for name in (refund, contact_only):
        assert "[" not in name and "]" not in name
        assert not {label.strip("[]") for label in REDACTION_LABELS} & set(_words(name)) or name.startswith("Only")
    assert "refund" in _words(refund)
    assert contact_only == "Only a redacted email address"


def test_every_group_gets_a_name_even_without_distinctive_words():
    texts = ["it is what it is", "it is what it is!", "12345", "12345", "", "[phone]", "ok"]
    groups = np.array([0, 0, 1, 1, 2, 3, 4])
    named = group_names(texts, groups)
    assert named == ["It is what it is", "12345", "Texts without words", "Only a redacted phone number", "Ok"]


def test_names_and_quotes_are_deterministic():
    assert group_names(TEXTS, GROUPS) == group_names(list(reversed(TEXTS)), GROUPS[::-1])
    vectors = np.random.default_rng(3).normal(size=(len(TEXTS), 8))
    assert coverage_quotes(vectors, TEXTS, 5, seed=1) == coverage_quotes(vectors, TEXTS, 5, seed=1)


def test_typical_quote_is_the_cosine_medoid():
    # cosines: AB .8, AC .6, AD 0, AE 1, BC .96, BD .6, BE .8, CD .8, CE .6, DE 0
    # sums:    A 2.4, B 3.16, C 2.96, D 1.4, E 2.4  -> B is the medoid
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])
    assert typical_quote(vectors) == 1
    assert typical_quote(vectors * np.array([[3.0], [0.5], [2.0], [7.0], [1.0]])) == 1  # length does not matter


def test_typical_quotes_index_into_the_whole_array_per_sorted_group():
    vectors = np.array([[0.0, 1.0], [1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0], [1.0, 0.0], [0.9, 0.1]])
    groups = np.array([7, 3, 3, 3, 3, 3, 7])
    # group 3 is rows 1-5 (the example above); group 7 has two members, the first wins the tie
    assert typical_quotes(vectors, groups) == [2, 0]


def _sub_topics(sizes: list[int], seed: int = 0, spread: float = 0.05) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Unit vectors around orthogonal directions, one per sub-topic, with texts that share
    nothing (random words), and the sub-topic of each member."""
    rng = np.random.default_rng(seed)
    vocabulary = ["export", "slow", "billing", "login", "mobile", "crash", "invoice", "search", "filter", "team",
                  "report", "chart", "sync", "calendar", "email", "password", "pricing", "upgrade", "refund", "api"]
    topic = np.repeat(np.arange(len(sizes)), sizes)
    vectors = np.eye(16)[topic] + rng.normal(scale=spread, size=(len(topic), 16))
    texts = [" ".join(rng.choice(vocabulary, 6)) + f" #{i}" for i in range(len(topic))]
    return vectors, texts, topic


def test_coverage_quotes_take_one_quote_from_each_sub_topic():
    vectors, texts, topic = _sub_topics([12, 6, 4])
    nearest_centre = np.argsort(-(vectors @ vectors.mean(axis=0)))[:3]
    assert set(topic[nearest_centre]) == {0}  # the old way: three quotes from the biggest side
    chosen = coverage_quotes(vectors, texts, 3)
    assert sorted(topic[chosen]) == [0, 1, 2]
    assert topic[chosen[0]] == 0  # largest side first


def test_coverage_quotes_skip_near_repeats():
    vectors, texts, _ = _sub_topics([10, 10])
    for i in range(6):  # six ways of writing the same complaint
        texts[i] = ["Export is slow!", "export is slow", "Export is SLOW.", "export is slow!!",
                    "Export  is slow", "export is slow ..."][i]
    chosen = coverage_quotes(vectors, texts, 5)
    assert len(chosen) == 5
    for i, first in enumerate(chosen):
        for second in chosen[i + 1:]:
            assert shingle_similarity(texts[first], texts[second]) <= 0.5


def test_coverage_quotes_leave_out_a_stray_outlier():
    vectors, texts, _ = _sub_topics([10, 10, 1])
    outlier = len(texts) - 1
    chosen = coverage_quotes(vectors, texts, 3)
    assert len(chosen) == 3 and outlier not in chosen


def test_mismatched_lengths_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="groups"):
        group_names(TEXTS, GROUPS[:-1])
    with pytest.raises(ValueError, match="siblings"):
        group_names(TEXTS, GROUPS, siblings=np.array([0, 1]))
    with pytest.raises(ValueError, match="texts"):
        coverage_quotes(np.ones((3, 2)), ["a", "b"], 2)


def test_a_capital_after_a_full_stop_is_not_taken_for_a_proper_noun():
    texts = ["Guest users can see every project. Can we stop that?", "guest users can see every project",
             "Guest users can see every project. Can you help?", "dark mode please", "please add dark mode",
             "Dark mode would be nice"]
    names = group_names(texts, np.array([0, 0, 0, 1, 1, 1]))
    assert "Can" not in names[0].split()[1:], names  # "Can" starts sentences; it is not a name


def test_a_light_verb_alone_is_never_a_name():
    texts = ["get", "get it", "get this now", "how do I get", "get going", "dark mode please", "add dark mode",
             "dark mode for night", "dark mode toggle", "a dark mode"]
    names = group_names(texts, np.array([0] * 5 + [1] * 5))
    assert names[0].lower() != "get" and names[1] == "Dark mode", names
