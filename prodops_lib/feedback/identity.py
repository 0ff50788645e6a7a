"""Stable issue identities across months: an issue keeps its key and name from one monthly run to
the next, so "emerging", "fading" and a PM's notes refer to the same thing each month.

Each run clusters the feedback of its whole window (``history_months``), so consecutive runs
share most of their items. The run saves its issues (key, name, first month seen, centre) and
which item is in which issue (:class:`IssueRegistry`, in the report's results folder); the next
run reads last month's and matches:

1. **By shared items.** For a current issue i and a previous issue p, the overlap is the number
   of items in both. p's *successor* is the current issue holding a majority of p's items that
   are still in the window; i's *predecessor* is the previous issue holding a majority of i's
   items that the previous run saw. When each is the other's, i keeps p's key (and p's name,
   unless another current issue has that name, or a sibling issue one like it).
2. **By content,** for issues that share no majority of items (a window without overlap, or an
   issue of new items only): i keeps p's key when their centres are each other's nearest and
   their cosine is at least ``CENTRE_MATCH`` — only when both runs used the same sentence
   model (centres of different models, or of TF-IDF, are not comparable).
3. Anything else gets a new key (``I-0001``, ``I-0002`` … in order of first appearance, never
   reused: the registry keeps the next number, so a gone issue's key is never given again).
   Items are kept by a hash of their id (:func:`item_hashes`), never the id itself. A previous issue whose items now sit mostly in several current issues is recorded
   as *split* into them; a current issue that holds the majority of several previous issues
   keeps the key of the largest and records the others as *merged* into it; a previous issue
   with no successor is recorded as *gone*.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prodops_lib.feedback.cluster import OTHER
from prodops_lib.feedback.embed import unit_vectors
from prodops_lib.feedback.naming import names_clash
from prodops_lib.io import read_csv_written, write_csv

__all__ = ["CENTRE_MATCH", "IssueLineage", "IssueRegistry", "match_issues"]

CENTRE_MATCH = 0.9
_ISSUES_FILE = "issue_registry.csv"
_MEMBERS_FILE = "issue_members.csv"
_CENTRES_FILE = "issue_centres.npy"
_META_FILE = "issue_registry.json"


def item_hashes(item_ids: pd.Series) -> pd.Series:
    """The registry keeps items by a hash of their id: an id can carry personal data (an email
    address, a phone number), and a hash matches next month's items all the same."""
    return pd.Series([hashlib.sha256(str(i).encode("utf-8")).hexdigest()[:20] for i in item_ids],
                     index=getattr(item_ids, "index", None), dtype="string")


@dataclass(frozen=True)
class IssueRegistry:
    """One run's issues: ``issues`` (``issue_key, label, first_seen, items``, in the order of the
    rows of ``centres``: unit centres of the members' embeddings), ``members`` (``item_hash,
    issue_key``: :func:`item_hashes`), ``next_number``: the number of the next new key (keys
    are never given twice, even after an issue is gone) and ``embedding``: the model the
    centres come from (content is compared only between centres of the same model)."""

    period: str
    issues: pd.DataFrame
    members: pd.DataFrame
    centres: np.ndarray
    next_number: int = 1
    embedding: str | None = None

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(self.issues, folder / _ISSUES_FILE)
        write_csv(self.members, folder / _MEMBERS_FILE)
        np.save(folder / _CENTRES_FILE, self.centres.astype(np.float32))
        meta = {"period": self.period, "next_key_number": int(self.next_number), "embedding": self.embedding}
        (folder / _META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> IssueRegistry | None:
        """The registry a run saved in ``folder``, or None when there is none (the first run)."""
        folder = Path(folder)
        paths = [folder / name for name in (_ISSUES_FILE, _MEMBERS_FILE, _CENTRES_FILE, _META_FILE)]
        if not all(path.is_file() for path in paths):
            return None
        issues = read_csv_written(paths[0], dtype={"issue_key": str, "label": str, "first_seen": str})
        members = read_csv_written(paths[1], dtype=str)
        centres = np.load(paths[2])
        try:
            meta = json.loads(paths[3].read_text(encoding="utf-8"))
            period, next_number, embedding = str(meta["period"]), int(meta["next_key_number"]), meta["embedding"]
        except (ValueError, KeyError, TypeError):
            meta = None
        if meta is None or len(centres) != len(issues) or not {"issue_key", "label", "first_seen"} <= set(issues.columns) \
                or not {"item_hash", "issue_key"} <= set(members.columns):
            raise ValueError(f"{folder}: the saved issue registry is incomplete or inconsistent; delete the "
                             f"{_ISSUES_FILE}, {_MEMBERS_FILE}, {_CENTRES_FILE} and {_META_FILE} files there to "
                             "start the keys afresh")
        return cls(period, issues, members, centres, next_number, embedding)


@dataclass(frozen=True)
class IssueLineage:
    """Keys and names of the current issues (indexed by issue id), the registry to save, and
    ``changes``: one row per event (``issue_key, label, change, detail``; change is kept,
    new, split, merged or gone)."""

    keys: list[str]
    names: list[str]
    first_seen: list[str]
    registry: IssueRegistry
    changes: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.changes.copy()


def _key_number(key: str) -> int:
    digits = "".join(ch for ch in str(key) if ch.isdigit())
    return int(digits) if digits else 0


def _majority(overlap: np.ndarray, totals: np.ndarray, axis: int) -> np.ndarray:
    """Per row (axis=1) or column (axis=0): the index holding more than half of its total, or −1."""
    best = overlap.argmax(axis=axis) if overlap.size else np.zeros(overlap.shape[1 - axis], dtype=int)
    counts = overlap.max(axis=axis) if overlap.size else np.zeros(overlap.shape[1 - axis])
    return np.where((totals > 0) & (counts * 2 > totals), best, -1)


def match_issues(previous: IssueRegistry | None, period: str, item_ids: pd.Series, issue_ids: np.ndarray,
                 vectors: np.ndarray, names: list[str], embedding: str | None = None,
                 siblings: np.ndarray | None = None) -> IssueLineage:
    """Keys for the current issues (``issue_ids`` per item, −1 = other; ``names`` per issue id)
    from ``previous``; see the module docstring. ``embedding`` names the model of ``vectors``:
    content is matched only against centres of the same model (TF-IDF refits its vocabulary
    every run, so its centres are never compared). ``siblings`` (each issue's theme): a kept
    name must not be like a sibling's (:func:`~prodops_lib.feedback.naming.names_clash`)."""
    issue_ids = np.asarray(issue_ids)
    n_issues = len(names)
    item_ids = item_hashes(pd.Series(item_ids).astype(str)).reset_index(drop=True)
    vectors = unit_vectors(np.asarray(vectors, dtype=np.float32))
    centres = unit_vectors(np.vstack([vectors[issue_ids == i].mean(axis=0) for i in range(n_issues)])) \
        if n_issues else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    keys: list[str | None] = [None] * n_issues
    kept_names = list(names)
    first_seen = [period] * n_issues
    events: list[dict] = []
    next_number = 1 if previous is None else previous.next_number
    if previous is not None and len(previous.issues):
        previous_keys = previous.issues["issue_key"].tolist()
        next_number = max(next_number, *(_key_number(k) + 1 for k in previous_keys))
        column = {key: j for j, key in enumerate(previous_keys)}
        before = previous.members[previous.members["issue_key"].isin(column)].drop_duplicates("item_hash")
        before = before.set_index("item_hash")["issue_key"]
        now = pd.Series(issue_ids, index=item_ids.to_numpy())
        shared = now[now.index.isin(before.index) & (now.to_numpy() != OTHER)]
        overlap = np.zeros((n_issues, len(previous_keys)))
        np.add.at(overlap, (shared.to_numpy(dtype=int), before.loc[shared.index].map(column).to_numpy(dtype=int)), 1)
        present = before[before.index.isin(item_ids)].map(column).value_counts().reindex(range(len(previous_keys)),
                                                                                          fill_value=0).to_numpy()
        seen = np.bincount(shared.to_numpy(dtype=int), minlength=n_issues)
        predecessor = _majority(overlap, seen, axis=1)
        successor = _majority(overlap, present, axis=0)
        matched_previous: set[int] = set()
        for i in range(n_issues):
            p = predecessor[i]
            if p >= 0 and successor[p] == i:
                keys[i] = previous_keys[p]
                matched_previous.add(p)
        # content match for what the items could not settle
        open_current = [i for i in range(n_issues) if keys[i] is None]
        open_previous = [p for p in range(len(previous_keys)) if p not in matched_previous and successor[p] < 0]
        comparable = (embedding is not None and embedding == previous.embedding and embedding != "tfidf"
                      and previous.centres.shape[1:] == centres.shape[1:])
        if open_current and open_previous and comparable:
            similarity = centres[open_current] @ unit_vectors(previous.centres[open_previous]).T
            for row, i in enumerate(open_current):
                col = int(similarity[row].argmax())
                if similarity[row, col] >= CENTRE_MATCH and int(similarity[:, col].argmax()) == row:
                    keys[i] = previous_keys[open_previous[col]]
                    matched_previous.add(open_previous[col])
        label_of = dict(zip(previous_keys, previous.issues["label"], strict=True))
        seen_of = dict(zip(previous_keys, previous.issues["first_seen"], strict=True))
        for i, key in enumerate(keys):
            if key is None:
                continue
            first_seen[i] = seen_of[key]
            old = label_of[key]
            # keep the name a reader knows, unless another issue has it, or a sibling one like it
            clashes = any(j != i and (other.lower() == old.lower() or (
                siblings is not None and siblings[j] == siblings[i] and names_clash(old, other)))
                for j, other in enumerate(kept_names))
            if old != names[i] and not clashes:
                kept_names[i] = old
            events.append({"issue_key": key, "label": kept_names[i], "change": "kept", "detail": ""})
    origin = [""] * n_issues
    unmatched: list[tuple[int, str]] = []
    if previous is not None and len(previous.issues):
        for i in range(n_issues):
            if keys[i] is None and predecessor[i] >= 0:
                origin[i] = f"split from {previous_keys[predecessor[i]]}"
        unmatched = [(p, key) for p, key in enumerate(previous_keys) if p not in matched_previous]
    for i in range(n_issues):
        if keys[i] is None:
            keys[i] = f"I-{next_number:04d}"
            next_number += 1
            events.append({"issue_key": keys[i], "label": kept_names[i], "change": "new", "detail": origin[i]})
    for p, key in unmatched:
        holders = [keys[i] for i in np.flatnonzero(overlap[:, p] * 5 >= max(present[p], 1))] if present[p] else []
        if successor[p] >= 0:
            change, detail = "merged", f"into {keys[successor[p]]}"
        elif len(holders) > 1:
            change, detail = "split", f"into {', '.join(holders)}"
        else:
            change, detail = "gone", "its items left the window" if not present[p] else "its items spread over other issues"
        events.append({"issue_key": key, "label": label_of[key], "change": change, "detail": detail})
    final_keys = [str(k) for k in keys]
    member = issue_ids != OTHER
    registry = IssueRegistry(
        period,
        pd.DataFrame({"issue_key": final_keys, "label": kept_names, "first_seen": first_seen,
                      "items": np.bincount(issue_ids[member], minlength=n_issues) if n_issues else []}),
        pd.DataFrame({"item_hash": item_ids[member].to_numpy(),
                      "issue_key": [final_keys[i] for i in issue_ids[member]]}),
        centres, next_number, embedding)
    changes = pd.DataFrame(events, columns=["issue_key", "label", "change", "detail"])
    rank = {"new": 0, "split": 1, "merged": 2, "gone": 3, "kept": 4}
    changes = changes.assign(_rank=changes["change"].map(rank)).sort_values(["_rank", "issue_key"]) \
        .drop(columns="_rank").reset_index(drop=True)
    return IssueLineage(final_keys, kept_names, first_seen, registry, changes)
