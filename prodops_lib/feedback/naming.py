"""Names a product manager can read, and quotes that cover a group.

**Names** (:func:`group_names`): a short phrase that occurs in the group's own texts, chosen
for being common in the group and distinctive of it: "Card hasn't arrived", "Top-up is still
pending", "Limit for top-ups" rather than "new / physical / expire".

1. *Words.* Texts are split at sentence punctuation into segments, and segments into words
   that keep inner apostrophes and hyphens ("didn't", "sign-ups", "e-mail", "2fa"),
   lowercased; "didnt" typed without its apostrophe is read as "didn't". Redaction
   placeholders (``[email]`` …, :data:`prodops_lib.privacy.REDACTION_LABELS`) end a segment
   and are never words.
2. *Candidates.* The *key words* of a segment are its words without function words ("the",
   "my", "how", "please" …), every negation ("not", "no", "didn't", "can't") kept as ``not``.
   A candidate is a run of 1–4 adjacent key words spanning at most ``max_words`` words. It is
   counted once per text containing it, and shown in its commonest exact wording in the group
   ("card hasn't arrived" for ``card not arrived``), so paraphrases that differ only in
   function words pool their counts. A wording keeps a particle after its last word when the
   particle ends the sentence, precedes a function word, or follows that word in most of the
   corpus ("top up", "turn the lights on"); it keeps "how"/"what"/"which" before its first
   word where the question needs it ("how long does it take", "what name should I use").
   Left out: runs starting or ending with a number, ending with a negation, and runs that
   are usually *open* — followed by another word ("disposable" of "disposable virtual card",
   "accept" of "accept my card"), cut before their particle, or just after a negation
   ("make these transactions" of "didn't make these transactions"); fragments (a one-word
   longer run covers 80% of their texts); and runs in fewer than 5% of the group's texts.
3. *Score.* For a word t and group c, cov(t, c) is the share of c's texts containing t and
   d(t, c) = cov(t, c) / Σ_g cov(t, g) is c's share of t's coverage over the groups; with
   sibling groups, the geometric mean of that share over all groups and over c's siblings.
   A word weighs w(t, c) = cov(t, c) · d(t, c), frequent *and* specific: the tf · idf of
   class-based TF-IDF (c-TF-IDF, Grootendorst 2022), on document frequencies so long texts do
   not weigh more, and with a share in [0, 1] in place of log(1 + A / f(t)). A candidate p
   scores

       S(p, c) = sqrt(cov(p, c)) · Σ_{t ∈ p} w(t, c) · spec(p, c)
       spec(p, c) = cov(p, c) / (Σ_g cov(p, g) + 0.02)   (over all groups and over siblings,
                                                           geometric mean, as for words)

   so a longer phrase wins when the weight it adds and its own specificity outweigh the
   texts it loses ("Virtual card won't work" beats "Virtual card" when four groups are about
   virtual cards); the 0.02 keeps a phrase found in only a few texts from looking specific.
   A one-word name (or a negation and one word) scores ×0.35, which turned most one-word
   names of the evaluation below into phrases ("Tell me a joke", "Find a recipe") without
   making names longer than useful.
4. *Siblings.* Two sibling names clash when their key words (plural "s" folded) are the same
   or one set contains the other ("Card" and "Card declined"), or their text is the same.
   While two clash, the one losing the smaller share of its score moves to its next
   candidate that is not the same as or a subset of any sibling's name (it may be a
   superset, which then clashes in turn): two groups whose best phrase is "Export to CSV is
   slow" end as "Export to CSV is slow" and "Slow on large tables". A group out of
   candidates takes its most typical text cut to ``max_words`` words; names still equal
   (groups with the very same texts) get a number.

A group of more than ``NAME_SAMPLE`` (400) texts is named from a sample of that many spread
evenly over its members: every quantity above is a share of a group's texts, which the sample
estimates to within a few points, and naming 100,000 texts then costs about a quarter as much.

*Evaluation* (true intents as groups; HWU64 with its scenarios as parents): no two sibling
names with the same key words or one inside the other on banking77 (77 intents), CLINC150
(150) or HWU64 (64); one-word names 3%, 15% and 14%, mostly where the texts use one word
("Weather", "Calories", "Uber"); 3.0, 2.5 and 2.5 words on average.

**Typical quote** (:func:`typical_quote`): the medoid under cosine, the member with the
highest mean cosine to the others, argmax_i u_i · Σ_j u_j over unit vectors u (the self term
is 1 for every member, so it does not change the order).

**Coverage quotes** (:func:`coverage_quotes`): quotes from the whole group rather than five
paraphrases of its centre. k-means with ``count`` centres splits the group into parts; each
part, largest first, gives its member nearest the part's centre (the medoid idea of
k-medoids, Kaufman & Rousseeuw 1990), preferring members above the group's lowest quarter of
similarity to the group centre. A part below a tenth of the group with no member above that
quarter is a handful of odd texts and gives no quote; missing quotes are k-center greedy
picks (farthest from the quotes so far, Gonzalez 1985). A member whose character 4-gram
Jaccard with a chosen quote exceeds 0.5 is a near-repeat and skipped. On the three intent
sets, with MiniLM vectors and 5 quotes per intent, a member's cosine to its nearest quote
rose from 0.75/0.68/0.60 (nearest the centre) to 0.82/0.74/0.64 (banking77/CLINC150/HWU64)
and the mean cosine between quotes fell from 0.87/0.80/0.77 to 0.64/0.57/0.50, with under
1% of quotes from the lowest quarter.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from prodops_lib.feedback.embed import unit_vectors
from prodops_lib.feedback.prepare import shingle_similarity
from prodops_lib.privacy import REDACTION_LABELS

__all__ = ["NAME_SAMPLE", "coverage_quotes", "group_names", "name_coverage", "names_clash", "spread_sample", "typical_quote",
           "typical_quotes"]

MAX_KEY_WORDS = 4
FRAGMENT_SHARE = 0.8
OPEN_SHARE = 0.5
MAX_OPTIONS = 40
MIN_COVERAGE = 0.05
SPECIFICITY_PRIOR = 0.02
ONE_WORD_DISCOUNT = 0.35
NEAR_REPEAT = 0.5
MIN_PART_SHARE = 0.1
NAME_SAMPLE = 400
QUOTE_SAMPLE = 500

# Function words: never the first or last word of a name, not counted as key words. Content
# words of sklearn's English list ("bill", "call", "top", "interest", "name", "show") are kept.
_STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also although
always am among amongst an and another any anyhow anyone anything anyway anywhere are around as
at be became because become becomes becoming been before beforehand behind being below beside
besides between beyond both but by can could did do does doing during each eg either else
elsewhere enough etc even ever every everyone everything everywhere except few for former
formerly from had has have having he hence her here hereafter hereby herein hereupon hers
herself him himself his how however i ie if in indeed into is it its itself just latter latterly
least less many may me meanwhile might mine more moreover most mostly much must my myself namely
neither nevertheless nobody none noone nor now nowhere of often on once only onto or other
others otherwise our ours ourselves over own per perhaps please pls plz rather really same
several she should since so some somehow someone something sometime sometimes somewhere still
such than that the their them themselves then thence there thereafter thereby therefore therein
thereupon these they this those though through throughout thru thus to together too toward
towards under until up upon us very via was we were what whatever when whence whenever where
whereafter whereas whereby wherein whereupon wherever whether which while whither who whoever
whole whom whose why will with within without would yet you your yours yourself yourselves hi
hello hey ok okay yes yeah want wanna gonna need like know let help kindly able possible sure
dear sir madam im ive id youre whats wheres hows thats theres lets u ur r s t ll ve d m re o y
shall off out down
""".split())  # noqa: SIM905
_NEGATIONS = frozenset(["not", "no", "never", "cannot", "nor", "aint"])
# Negations typed without their apostrophe are read as if they had it ("didnt" is "didn't").
_APOSTROPHE = {word.replace("'", ""): word for word in (
    "can't", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't", "weren't", "hasn't", "haven't",
    "hadn't", "won't", "wouldn't", "couldn't", "shouldn't", "i'm", "i've")}
_PARTICLES = frozenset(["up", "in", "out", "off", "on", "down", "over", "back", "away", "through"])
_DETERMINERS = frozenset(["a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "this",
                          "that", "these", "those", "some", "any"])
# A name runs inside one clause: "Monthly report", not "Monthly report and it takes"; "Search
# is case sensitive", not "Case sensitive which is confusing". A subordinator always starts a
# new clause; a joiner does when a function word follows it ("and it", "which is"), while
# "Visa or Mastercard" and "ATMs that accept this card" stay whole.
_SUBORDINATORS = frozenset(["because", "if", "when", "while", "since", "although", "though", "unless",
                            "until", "whereas"])
_JOINERS = frozenset(["and", "but", "or", "so", "which", "that", "who", "where"])
# Verbs that carry no subject on their own: never a name by themselves ("Get a refund" is fine)
_LIGHT_VERBS = frozenset(["get", "gets", "got", "getting", "make", "makes", "made", "take", "takes", "took", "go",
                          "goes", "went", "use", "uses", "used", "do", "does", "did", "see", "try", "tried", "put",
                          "give", "set", "keep", "come", "say", "says", "said", "tell", "ask", "asks", "find"])
_QUESTION = frozenset(["how", "what", "which", "whose"])
_HOW = frozenset(["long", "old", "far", "often", "soon", "big", "fast", "late", "early", "tall"])
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*(?:st|nd|rd|th|am|pm|s|k|m|h|gb|mb|%)?")
_WORD = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")
_BREAK = re.compile(r"[.!?;:,()\[\]{}<>\"“”|/\\…=+*#~]+|\s[-–—]+\s|\s[-–—]+$|^[-–—]+\s")
_PLACEHOLDER = re.compile("|".join(re.escape(label) for label in REDACTION_LABELS))
_PLACEHOLDER_NAMES = {"[email]": "email address", "[phone]": "phone number", "[card]": "card number",
                      "[url]": "link", "[handle]": "social media handle",
                      "[iban]": "bank account number", "[national id]": "national id number",
                      "[ip]": "IP address"}
NOT = "not"

Skeleton = tuple[str, ...]
_Option = tuple[float, frozenset[str], str]  # (score, folded key words, name)


def _segments(text: str) -> list[list[str]]:
    """Words of each segment of ``text`` as written (curly apostrophes made straight)."""
    text = _PLACEHOLDER.sub("|", str(text).replace("\u2019", "'").replace("\u2018", "'"))
    return [words for part in _BREAK.split(text) if (words := _WORD.findall(part))]


def _role(key: str) -> str:
    """``stop``, ``not`` (a negation), ``number`` or ``word`` for a lowercased word."""
    if key in _NEGATIONS or key.endswith("n't"):
        return NOT
    if key in _STOP_WORDS or ("'" in key and key.split("'")[0] in _STOP_WORDS):
        return "stop"
    return "number" if _NUMBER.fullmatch(key) else "word"


class _Corpus:
    """Every text as segments of lowercased words with their roles, plus the corpus-wide
    counts that naming needs: which particle usually follows a word, and how words are
    capitalised away from the start of a text."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts: list[list[tuple[list[str], list[str]]]] = []
        self.role: dict[str, str] = {}
        following: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._forms: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            segments = []
            for words in _segments(text):
                keys = [_APOSTROPHE.get(key, key) for key in (w.lower() for w in words)]
                for i, (word, key) in enumerate(zip(words, keys, strict=True)):
                    if key not in self.role:
                        self.role[key] = _role(key)
                    following[key][keys[i + 1] if i + 1 < len(keys) else ""] += 1
                    if i:  # a segment's first word may start a sentence: its capital says nothing
                        self._forms[key][word] += 1
                segments.append((words, keys))
            self.texts.append(segments)
        self.particle = {}
        for key, after in following.items():
            particle, count = max(((p, c) for p, c in after.items() if p in _PARTICLES),
                                  key=lambda pc: (pc[1], pc[0]), default=("", 0))
            if count > 0.5 * sum(after.values()):
                self.particle[key] = particle

    def display(self, key: str) -> str:
        """How a word is written: an acronym or a proper noun keeps its usual capitals
        ("PIN", "Spotify"), everything else is lowercase; "i" is "I"."""
        if key == "i" or key.startswith("i'"):
            return "I" + key[1:]
        forms = self._forms.get(key)
        if forms:
            form, count = forms.most_common(1)[0]
            if form != key and form.lower() == key and count >= 0.6 * sum(forms.values()):
                return form
        return key

    def phrases(self, position: int, max_words: int) -> dict[Skeleton, list[tuple[tuple[str, ...], bool]]]:
        """Candidate key-word runs of one text, each with the wordings it occurs in and whether
        that occurrence is *open*: followed by a word, directly or after a determiner, as
        "disposable" in "a disposable virtual card" or "accept" in "accept my card"."""
        found: dict[Skeleton, list[tuple[tuple[str, ...], bool]]] = {}
        for _, keys in self.texts[position]:
            kept = [(i, NOT if self.role[k] == NOT else k) for i, k in enumerate(keys)
                    if self.role[k] != "stop"]
            for a, (first, head) in enumerate(kept):
                if self.role[keys[first]] == "number" or (
                        head == NOT and first + 1 < len(keys) and self.role[keys[first + 1]] == "stop"
                        and keys[first + 1] not in _DETERMINERS):
                    continue  # a number, or a negation not followed by what it negates ("if not, please")
                for b in range(a, min(a + MAX_KEY_WORDS, len(kept))):
                    last = kept[b][0]
                    if last - first + 1 > max_words or any(
                            keys[j] in _SUBORDINATORS or (keys[j] in _JOINERS and self.role[keys[j + 1]] == "stop")
                            for j in range(first + 1, last)):
                        break  # too long, or across two clauses
                    if kept[b][1] == NOT or self.role[keys[last]] == "number":
                        continue
                    start, end = first, last + 1
                    cut_particle = end < len(keys) and (
                        keys[end] == self.particle.get(keys[last])
                        or (keys[end] in _PARTICLES and (end + 1 == len(keys) or (
                            self.role[keys[end + 1]] == "stop" and keys[end + 1] not in _DETERMINERS))))
                    if cut_particle and end - start < max_words:
                        end, cut_particle = end + 1, False  # "top up", "turn the lights on"
                    if start and end - start < max_words and keys[start - 1] in _QUESTION and (
                            head in _HOW or (b > a and self.role[keys[first + 1]] == "stop")):
                        start -= 1  # "how long does it take", "what name should I use"
                    after = end + (end < len(keys) and keys[end] in _DETERMINERS)
                    is_open = (cut_particle or (after < len(keys) and self.role[keys[after]] in ("word", NOT))
                               or (a > 0 and kept[a - 1][1] == NOT))  # "make these" of "didn't make these"
                    skeleton = tuple(k for _, k in kept[a:b + 1])
                    found.setdefault(skeleton, []).append((tuple(keys[start:end]), is_open))
        return found


def _fold(key: str) -> str:
    """A word without a possessive or plural ending, for comparing names only."""
    key = key.removesuffix("'s").replace("-", "")
    return key[:-1] if len(key) > 3 and key.endswith("s") and not key.endswith("ss") else key


def _distinctiveness(coverage: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """d(t, c): c's share of t's coverage over all groups, geometric mean with its share over
    c's siblings (same parent)."""
    overall = coverage / np.maximum(coverage.sum(axis=0, keepdims=True), 1e-12)
    among_siblings = np.zeros_like(coverage)
    for parent in np.unique(parents):
        rows = parents == parent
        among_siblings[rows] = coverage[rows] / np.maximum(coverage[rows].sum(axis=0, keepdims=True), 1e-12)
    return np.sqrt(overall * among_siblings)


@dataclass
class _GroupPhrases:
    """A group's candidates: how many member texts hold each, its closed wordings (counted per
    occurrence), and how many of its occurrences are open."""

    size: int
    texts_with: Counter[Skeleton] = field(default_factory=Counter)
    wordings: defaultdict[Skeleton, Counter[tuple[str, ...]]] = field(
        default_factory=lambda: defaultdict(Counter))
    open_ends: Counter[Skeleton] = field(default_factory=Counter)

    @classmethod
    def collect(cls, corpus: _Corpus, members: np.ndarray, max_words: int) -> _GroupPhrases:
        phrases = cls(len(members))
        for position in members:
            for skeleton, found in corpus.phrases(int(position), max_words).items():
                phrases.texts_with[skeleton] += 1
                phrases.wordings[skeleton].update(wording for wording, is_open in found if not is_open)
                phrases.open_ends[skeleton] += sum(is_open for _, is_open in found)
        return phrases

    def ranked(self, weight: dict[str, float], specificity: Callable[[Skeleton, float], float],
               ) -> list[tuple[float, Skeleton, tuple[str, ...]]]:
        """Candidates best first as (score S, key words, commonest closed wording), without
        fragments, mostly-open runs and rare runs; ``weight`` is w(t, c) and
        ``specificity(key words, coverage)`` is spec(p, c) (module docstring)."""
        longer: Counter[Skeleton] = Counter()
        for skeleton, count in self.texts_with.items():
            if len(skeleton) > 1:
                for part in (skeleton[:-1], skeleton[1:]):
                    longer[part] = max(longer[part], count)
        least = max(2 if self.size >= 4 else 1, math.ceil(MIN_COVERAGE * self.size))
        ranked = []
        for skeleton, count in self.texts_with.items():
            closed = self.wordings[skeleton].total()
            if count < least or longer[skeleton] >= FRAGMENT_SHARE * count \
                    or self.open_ends[skeleton] > OPEN_SHARE * (closed + self.open_ends[skeleton]):
                continue
            gain = sum(weight.get(k, 0.0) for k in skeleton)
            if gain <= 0:
                continue
            wording = min(self.wordings[skeleton].items(), key=lambda wc: (-wc[1], len(wc[0]), wc[0]))[0]
            coverage = count / self.size
            score = math.sqrt(coverage) * gain * specificity(skeleton, coverage)
            one_word = len(wording) == 1 or (skeleton[0] == NOT and len(skeleton) == 2)
            if one_word and skeleton[-1] in _LIGHT_VERBS:
                continue  # "Get", "Make": a verb that says nothing without its object
            ranked.append((score * (ONE_WORD_DISCOUNT if one_word else 1.0), skeleton, wording))
        ranked.sort(key=lambda r: (-r[0], r[2]))
        return ranked


def _typical_text_words(corpus: _Corpus, members: np.ndarray, coverage: dict[str, float],
                        max_words: int) -> list[str]:
    """Lowercased words of the member whose words are commonest in the group, from its first
    key word (its first word if it has only function words), at most ``max_words``, not
    ending in a function word unless that is all there is (the name of last resort)."""
    best: tuple[bool, bool, float, list[str]] = (False, False, -1.0, [])
    for position in members:
        keys = [k for _, segment_keys in corpus.texts[int(position)] for k in segment_keys]
        if not keys:
            continue
        content = [i for i, k in enumerate(keys) if corpus.role[k] != "stop"]
        cut = keys[content[0] if content else 0:][:max_words]
        while content and len(cut) > 1 and corpus.role[cut[-1]] in ("stop", NOT):
            cut.pop()
        # a lone light verb ("Get") is the last choice even here
        rank = (bool(content), not (len(cut) == 1 and cut[0] in _LIGHT_VERBS),
                sum(coverage.get(k, 0.0) for k in keys) / len(keys))
        if rank > best[:3]:
            best = (*rank, cut)
    return best[3]


def _render(corpus: _Corpus, wording: Sequence[str]) -> str:
    """The words as written (see :meth:`_Corpus.display`), in sentence case."""
    words = [corpus.display(k) for k in wording]
    if words and words[0] == wording[0]:  # written in lowercase; "iPhone" would stay as it is
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def group_names(texts: Sequence[str], groups: np.ndarray, *, siblings: np.ndarray | None = None,
                max_words: int = 5) -> list[str]:
    """One readable name per group, for the groups in sorted order of ``np.unique(groups)``.

    ``texts`` are the (redacted) member texts and ``groups`` their integer group labels, in
    the same order. ``siblings``, if given, is the parent id of each group (aligned with
    ``np.unique(groups)``): names are made distinct among groups with the same parent, and
    words are weighed against the siblings as well as against all groups. Without it every
    group is a sibling of every other. Names are phrases from the texts of at most
    ``max_words`` words, in sentence case, never empty. The method is in the module
    docstring."""
    texts = list(texts)
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != len(texts):
        raise ValueError(f"groups: expected one label per text ({len(texts)}), got shape {groups.shape}")
    if max_words < 1:
        raise ValueError(f"max_words: must be at least 1, got {max_words}")
    group_ids, group_of = np.unique(groups, return_inverse=True)
    parents = np.zeros(len(group_ids), dtype=int)
    if siblings is not None:
        siblings = np.asarray(siblings)
        if siblings.shape != group_ids.shape:
            raise ValueError(f"siblings: expected one parent id per group ({len(group_ids)} groups, in the "
                             f"order of np.unique(groups)), got shape {siblings.shape}")
        parents = np.unique(siblings, return_inverse=True)[1].reshape(-1)
    sizes = np.bincount(group_of, minlength=len(group_ids))
    # every share below is a share of a group's texts, so a spread sample of a large group
    # estimates it (standard error under 2.5 points at 400 texts) at a fraction of the cost
    sampled = [spread_sample(np.flatnonzero(group_of == g), NAME_SAMPLE) for g in range(len(group_ids))]
    positions = np.unique(np.concatenate(sampled)) if sampled else np.zeros(0, dtype=int)
    texts = [texts[int(p)] for p in positions]
    members = [np.searchsorted(positions, rows) for rows in sampled]
    corpus = _Corpus(texts)
    words, coverage = _word_coverage(corpus, members)
    weights = coverage * _distinctiveness(coverage, parents)
    phrases = [_GroupPhrases.collect(corpus, rows, max_words) for rows in members]
    overall: Counter[Skeleton] = Counter()  # Σ_g cov(p, g), over all groups and over siblings
    among_siblings: Counter[tuple[int, Skeleton]] = Counter()
    for g, found in enumerate(phrases):
        for skeleton, count in found.texts_with.items():
            overall[skeleton] += count / found.size
            among_siblings[parents[g], skeleton] += count / found.size

    options: list[list[_Option]] = []
    for g, rows in enumerate(members):
        weight = {words[i]: float(weights[g, i]) for i in np.flatnonzero(weights[g])}

        def specificity(skeleton: Skeleton, share: float, parent: int = int(parents[g])) -> float:
            return share / math.sqrt((overall[skeleton] + SPECIFICITY_PRIOR)
                                     * (among_siblings[parent, skeleton] + SPECIFICITY_PRIOR))

        ranked = [(score, frozenset(_fold(k) for k in skeleton), _render(corpus, wording))
                  for score, skeleton, wording in phrases[g].ranked(weight, specificity)]
        group_coverage = {words[i]: float(coverage[g, i]) for i in np.flatnonzero(coverage[g])}
        fallback = _typical_text_words(corpus, rows, group_coverage, max_words)
        last_resort = _render(corpus, fallback) if fallback else _wordless_name(texts, rows)
        options.append([*ranked[:MAX_OPTIONS], (0.0, frozenset(_fold(k) for k in fallback), last_resort)])
    choice = np.zeros(len(group_ids), dtype=int)
    names: list[str] = [""] * len(group_ids)
    for parent in np.unique(parents):
        siblings_of = sorted(np.flatnonzero(parents == parent).tolist(), key=lambda g: (-sizes[g], g))
        _make_distinct(options, siblings_of, sizes, choice)
        times: Counter[str] = Counter()  # the last resort: names still the same get a number
        for g in siblings_of:
            name = options[g][choice[g]][2]
            times[name.lower()] += 1
            names[g] = name if times[name.lower()] == 1 else f"{name} ({times[name.lower()]})"
    return names


def spread_sample(rows: np.ndarray, count: int) -> np.ndarray:
    """``rows`` if there are at most ``count``, else ``count`` of them evenly spread from the
    first to the last (deterministic, and across the whole group: members are in item order)."""
    if len(rows) <= count:
        return rows
    return rows[np.unique(np.linspace(0, len(rows) - 1, count).round().astype(int))]


def _word_coverage(corpus: _Corpus, members: list[np.ndarray]) -> tuple[list[str], np.ndarray]:
    """The key words, and cov(t, c): the share of each group's texts containing each."""
    vocabulary: dict[str, int] = {}
    counts: list[Counter[int]] = []
    for rows in members:
        found: Counter[int] = Counter()
        for position in rows:
            keys = {NOT if corpus.role[k] == NOT else k for _, ks in corpus.texts[int(position)] for k in ks
                    if corpus.role[k] in ("word", NOT)}
            found.update(vocabulary.setdefault(k, len(vocabulary)) for k in keys)
        counts.append(found)
    coverage = np.zeros((len(members), max(len(vocabulary), 1)))
    for g, found in enumerate(counts):
        for index, count in found.items():
            coverage[g, index] = count / len(members[g])
    return list(vocabulary), coverage


def _covered(option: _Option, other: _Option) -> bool:
    """``option`` says nothing ``other`` does not: its key words are among ``other``'s, or
    its text is the same."""
    return (bool(option[1]) and option[1] <= other[1]) or option[2].lower() == other[2].lower()


def _clash(first: _Option, second: _Option) -> bool:
    """Two names a reader could confuse: the same key words (plural "s" folded), one's key
    words a subset of the other's, or the same text."""
    return _covered(first, second) or _covered(second, first)


def _make_distinct(options: list[list[_Option]], order: list[int], sizes: np.ndarray,
                   choice: np.ndarray) -> None:
    """Move sibling names apart, in place in ``choice`` (each group's option index).

    While two siblings clash, one of them moves to its next option that is neither the same
    as nor a subset of any sibling's current name (it may be a superset, "Export to CSV is
    slow on large tables" beside "Export to CSV is slow", which then clashes in turn). The one
    that moves is the one that loses the smaller share of its score; on a tie, the smaller
    group. ``order``: the siblings, largest first. Every move goes down a finite list, so
    this ends."""
    rank = {group: r for r, group in enumerate(order)}

    def current(group: int) -> _Option:
        return options[group][choice[group]]

    def next_option(group: int) -> int | None:
        others = [current(o) for o in order if o != group]
        for index in range(choice[group] + 1, len(options[group])):
            if not any(_covered(options[group][index], other) for other in others):
                return index
        return None

    clashing = {(g, h) for i, g in enumerate(order) for h in order[i + 1:] if _clash(current(g), current(h))}
    while clashing:
        pair = min(clashing, key=lambda p: (rank[p[0]], rank[p[1]]))
        clashing.discard(pair)  # settled by the move below, or left as it is: numbered later if equal
        moves = {group: index for group in pair if (index := next_option(group)) is not None}
        if not moves:
            continue
        kept_share = {group: options[group][index][0] / max(current(group)[0], 1e-12)
                      for group, index in moves.items()}
        mover = max(moves, key=lambda group: (kept_share[group], -sizes[group], group))
        choice[mover] = moves[mover]
        for other in order:
            if other != mover:
                key = (mover, other) if rank[mover] < rank[other] else (other, mover)
                if _clash(current(mover), current(other)):
                    clashing.add(key)
                else:
                    clashing.discard(key)


def _key_set(text: str) -> frozenset[str]:
    keys = (_APOSTROPHE.get(k, k) for words in _segments(text) for k in (w.lower() for w in words))
    return frozenset(NOT if role == NOT else _fold(k) for k in keys if (role := _role(k)) in ("word", NOT))


def names_clash(first: str, second: str) -> bool:
    """Two names a reader could confuse: the same text, or one's key words (plural "s"
    folded) all among the other's ("Card declined" and "Card declined twice")."""
    a, b = _key_set(first), _key_set(second)
    return first.lower() == second.lower() or (bool(a) and bool(b) and (a <= b or b <= a))


def name_coverage(texts: Sequence[str], name: str) -> float:
    """The share of ``texts`` that hold every key word of ``name`` (plural "s" folded)."""
    wanted = _key_set(name)
    if not wanted or not len(texts):
        return 0.0
    return sum(wanted <= _key_set(text) for text in texts) / len(texts)


def _wordless_name(texts: Sequence[str], members: np.ndarray) -> str:
    """A name for a group without a single word: what was redacted from it, if anything."""
    redacted = Counter(label for p in members for label in _PLACEHOLDER.findall(str(texts[int(p)])))
    if redacted:
        return f"Only a redacted {_PLACEHOLDER_NAMES.get(redacted.most_common(1)[0][0], 'detail')}"
    return "Texts without words"


# --------------------------------------------------------------------------- quotes


def typical_quote(vectors: np.ndarray) -> int:
    """Position of the group's most typical member: the medoid under cosine,
    argmax_i u_i · Σ_j u_j over the unit vectors u (highest mean cosine to the others;
    the first such member on ties)."""
    unit = unit_vectors(np.asarray(vectors, dtype=np.float32))
    if not len(unit):
        raise ValueError("vectors: the group has no members")
    return int(np.argmax(unit @ unit.sum(axis=0, dtype=np.float64).astype(np.float32)))


def typical_quotes(vectors: np.ndarray, groups: np.ndarray) -> list[int]:
    """Positions (into ``vectors``) of each group's typical member (:func:`typical_quote`),
    for the groups in sorted order of ``np.unique(groups)``."""
    groups = np.asarray(groups)
    if len(groups) != len(vectors):
        raise ValueError(f"groups: expected one label per vector ({len(vectors)}), got {len(groups)}")
    positions = []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        positions.append(int(rows[typical_quote(vectors[rows])]))
    return positions


def coverage_quotes(vectors: np.ndarray, texts: Sequence[str], count: int, seed: int = 0) -> list[int]:
    """Positions of up to ``count`` members of one group (``vectors`` and ``texts`` of its
    members, in the same order) whose texts together cover the group, largest side first.

    k-means (``seed``) splits the group into ``count`` parts; each part, largest first, gives
    its member nearest the part's centre that is not a near-repeat of a quote already chosen
    (character 4-gram Jaccard > 0.5), taken from the members above the group's lowest quarter
    of similarity to the group centre when the part has any. A part smaller than a tenth of
    the group with none there is a few odd texts and gives no quote. Missing quotes are then
    filled by k-center greedy: the member least similar to the quotes so far, from above that
    lowest quarter first. Fewer than ``count`` come back only when every other member is a
    near-repeat. A group of more than ``QUOTE_SAMPLE`` members is read through a spread sample
    of that many (:func:`spread_sample`). Deterministic for a given ``seed``."""
    from sklearn.cluster import KMeans

    if len(texts) != len(vectors):
        raise ValueError(f"texts: expected one text per vector ({len(vectors)}), got {len(texts)}")
    if count <= 0 or not len(vectors):
        return []
    if len(vectors) > QUOTE_SAMPLE:  # a spread sample covers the group as well, at a fraction of the cost
        pool = spread_sample(np.arange(len(vectors)), QUOTE_SAMPLE)
        return [int(pool[p]) for p in coverage_quotes(vectors[pool], [texts[int(i)] for i in pool], count, seed)]
    unit = unit_vectors(np.asarray(vectors, dtype=np.float32))
    centre = unit.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    to_centre = unit @ centre
    central = to_centre >= np.quantile(to_centre, 0.25)
    chosen: list[int] = []

    def fresh(position: int) -> bool:
        return all(shingle_similarity(texts[position], texts[c]) <= NEAR_REPEAT for c in chosen)

    parts = min(count, len(np.unique(unit, axis=0)))
    if parts > 1:
        model = KMeans(n_clusters=parts, n_init=4, random_state=seed).fit(unit)
        part_of, centres = model.labels_, model.cluster_centers_
    else:
        part_of, centres = np.zeros(len(unit), dtype=int), centre[None, :]
    sizes = np.bincount(part_of, minlength=len(centres))
    for part in sorted(range(len(centres)), key=lambda p: (-sizes[p], p)):
        rows = np.flatnonzero(part_of == part)
        if sizes[part] < MIN_PART_SHARE * len(unit) and not central[rows].any():
            continue  # a few odd texts, not a side of the group
        if central[rows].any():
            rows = rows[central[rows]]
        for position in rows[np.argsort(-(unit[rows] @ centres[part]), kind="stable")]:
            if fresh(int(position)):
                chosen.append(int(position))
                break
    for pool in (np.flatnonzero(central), np.arange(len(unit))):
        while len(chosen) < count:
            pick = _farthest_fresh(unit, to_centre, pool, chosen, fresh)
            if pick is None:
                break
            chosen.append(pick)
    return chosen[:count]


def _farthest_fresh(unit: np.ndarray, to_centre: np.ndarray, pool: np.ndarray, chosen: list[int],
                    fresh: Callable[[int], bool]) -> int | None:
    """The member of ``pool`` least similar to its nearest chosen quote (the most central one
    when nothing is chosen) that is not chosen and not a near-repeat; None if there is none."""
    pool = pool[~np.isin(pool, chosen)]
    closeness = (unit[pool] @ unit[chosen].T).max(axis=1) if chosen else -to_centre[pool]
    for position in pool[np.argsort(closeness, kind="stable")]:
        if fresh(int(position)):
            return int(position)
    return None
