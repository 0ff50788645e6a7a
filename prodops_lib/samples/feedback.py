"""Sample customer feedback from four channels, each file with its own column names.

Items are generated theme first: each month every true theme gets an exact count
(``_month_shares``), so the demand shares are known without sampling error.  Then a
channel (support tickets, sales notes, NPS comments, app reviews), an account, a date
and a text from the theme's templates.  Planted on top: Integrations (a Slack outage)
jumps in 2026-10 while Onboarding halves, ~3% near-duplicate re-pastes, a few empty
comments, and hostile/personal text in ~1% of each file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import _feedback_text as text
from ._common import (
    EMERGING,
    FADING,
    PRODUCT_THEMES,
    REPORT_PERIOD,
    SAMPLE_MONTHS,
    add_typo,
    fill,
    inject_hostile,
    largest_remainder,
    month_bounds,
    pick,
    random_times,
    rounded,
    write_csv,
)

SEED = 20261003
ORIGINALS_PER_MONTH = (470, 475, 480, 485, 490, 510)
FIXED_SHARE = {"Reporting & dashboards": 0.225, "Mobile app": 0.042, text.DARK_MODE: 0.04, text.NOISE: 0.05}
SHIFTING_SHARE = {EMERGING: (0.06, 0.18), FADING: (0.11, 0.055)}  # (May-Sep, October)
CHANNEL_BASE = {"support": 0.45, "sales": 0.15, "nps": 0.25, "app_reviews": 0.15}
CHANNEL_AFFINITY = {
    "Mobile app": {"app_reviews": 4.0, "sales": 0.3}, "Billing & invoicing": {"support": 1.6},
    "Permissions & admin": {"sales": 2.5, "app_reviews": 0.3}, "Reporting & dashboards": {"sales": 1.5},
    text.DARK_MODE: {"app_reviews": 2.0, "nps": 1.5, "sales": 0.2}, text.NOISE: {"sales": 0.3},
}
N_DUPLICATES = 90
EMPTY_TEXTS = {"nps": ("", "", "", "", "   "), "app_reviews": ("", "")}
EMPTY_THEME = "(empty)"
N_ACCOUNTS = 320
KEEP_CAPITAL = {"I", "I'm", "I've", "Slack", "Android", "Search", "Face", "Google", "Microsoft",
                "Zapier", "Salesforce", "HubSpot", "Jira", "Zendesk", "Okta"}
FILES = {"support": "support_tickets.csv", "sales": "sales_notes.csv", "nps": "nps_survey.csv",
         "app_reviews": "app_reviews.csv"}
NAME_PARTS = (("North", "Blue", "Silver", "Bright", "Oak", "Harbor", "Summit", "Nova", "Iron", "Cedar",
               "Lumen", "Vertex", "Atlas", "Pine", "Crescent", "Delta"),
              ("wind", "fin", "field", "path", "stone", "bridge", "works", "line", "gate", "point"),
              (" Logistics", " Health", " Labs", " Retail", " Media", " Foods", " Energy", " Partners",
               " GmbH", " Ltd", " Inc.", " SARL", ""))


def _month_shares(month: str) -> dict[str, float]:
    """True demand share of every theme in ``month`` (the other four share what is left)."""
    october = month == REPORT_PERIOD
    shares = dict(FIXED_SHARE) | {theme: pair[october] for theme, pair in SHIFTING_SHARE.items()}
    rest = [t for t in PRODUCT_THEMES if t not in shares]
    left = 1.0 - sum(shares.values())
    return {t: shares.get(t, left / len(rest)) for t in (*PRODUCT_THEMES, text.DARK_MODE, text.NOISE)}


def _accounts(rng: np.random.Generator) -> pd.DataFrame:
    segment = rng.choice(["SMB", "Mid-market", "Enterprise"], size=N_ACCOUNTS, p=[0.6, 0.3, 0.1])
    plan_by_segment = {"SMB": (["free", "pro"], [0.5, 0.5]), "Mid-market": (["pro", "enterprise"], [0.7, 0.3]),
                       "Enterprise": (["enterprise"], [1.0])}
    arr_median = {"SMB": 3_000, "Mid-market": 25_000, "Enterprise": 150_000}
    rows, names = [], set()
    for i, seg in enumerate(segment, start=1):
        name = ""
        while not name or name in names:
            name = "".join(part[int(rng.integers(len(part)))] for part in NAME_PARTS)
        names.add(name)
        options, p = plan_by_segment[seg]
        plan = options[int(rng.choice(len(options), p=p))]
        arr = 0 if plan == "free" else round(arr_median[seg] * float(np.exp(0.6 * rng.standard_normal())), -2)
        rows.append({"account_id": f"ACC-{i:05d}", "name": name, "segment": seg, "plan": plan, "arr": arr})
    accounts = pd.DataFrame(rows)
    accounts.loc[7, "name"] = "Müller & Söhne GmbH"
    accounts.loc[42, "name"] = "Café Lumière <SARL>"
    return accounts


def _compose(rng: np.random.Generator, theme: str, channel: str, month: str) -> tuple[str, str]:
    """The item's text and a short subject line (its first words)."""
    templates = text.TEMPLATES[theme]
    if theme == EMERGING and month == REPORT_PERIOD and rng.random() < 0.7:
        templates = text.SLACK_OUTAGE
    sentences = [fill(pick(templates, rng), text.SLOTS, rng)]
    if theme != text.NOISE:  # a second (35%) and a third (12% of those) sentence
        for chance in (0.35, 0.12 / 0.35):
            if rng.random() >= chance:
                break
            sentences.append(fill(pick(text.TEMPLATES[theme], rng), text.SLOTS, rng))
    body = " ".join(dict.fromkeys(sentences))
    if rng.random() < 0.05:
        body = add_typo(body, rng)
    subject = " ".join(sentences[0].split()[:7]).rstrip(".,!?:")
    opener, closer = pick(text.OPENERS[channel], rng), pick(text.CLOSERS[channel], rng)
    first_word = body.split(" ", 1)[0]
    if opener.endswith((",", " but")) and first_word[1:].islower() and first_word not in KEEP_CAPITAL:
        body = body[0].lower() + body[1:]
    if channel == "support" and opener and rng.random() < 0.15:
        return f"{opener}\n\n{body}\n{closer}".rstrip(), subject
    return " ".join(part for part in (opener, body, closer) if part), subject


def _originals(rng: np.random.Generator, accounts: pd.DataFrame) -> pd.DataFrame:
    account_weight = accounts["segment"].map({"SMB": 1.0, "Mid-market": 2.0, "Enterprise": 4.0}).to_numpy()
    channels = list(CHANNEL_BASE)
    rows = []
    for month, n_items in zip(SAMPLE_MONTHS, ORIGINALS_PER_MONTH, strict=True):
        start, end = month_bounds(month)
        counts = largest_remainder(_month_shares(month), n_items)
        themes = np.repeat(list(counts), list(counts.values()))
        times = random_times(rng, start, end, n_items)
        for theme, moment in zip(rng.permutation(themes), times, strict=True):
            weights = np.array([CHANNEL_BASE[c] * CHANNEL_AFFINITY.get(theme, {}).get(c, 1.0) for c in channels])
            channel = channels[int(rng.choice(len(channels), p=weights / weights.sum()))]
            account = "" if channel == "app_reviews" else accounts["account_id"].iloc[
                int(rng.choice(len(accounts), p=account_weight / account_weight.sum()))]
            body, subject = _compose(rng, theme, channel, month)
            rows.append({"channel": channel, "theme": theme, "month": month, "time": moment,
                         "account_id": account, "text": body, "subject": subject, "duplicate_of": -1})
    return pd.DataFrame(rows)


def _perturb(rng: np.random.Generator, original: str) -> str:
    """The same complaint pasted again: whitespace, punctuation or case edits only."""
    edits = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
    edited = original
    for edit in edits:
        if edit == 0:
            edited = edited.replace(" ", "  ", 2)
        elif edit == 1:
            edited = edited.rstrip(".!?") + ("!!" if rng.random() < 0.5 else "")
        elif edit == 2:
            edited = edited.lower()
        else:
            edited = f"  {edited} "
    return edited if edited != original else original + " "


def _with_duplicates(rng: np.random.Generator, items: pd.DataFrame) -> pd.DataFrame:
    eligible = np.flatnonzero(items["channel"].ne("app_reviews").to_numpy())
    sources = np.sort(rng.choice(eligible, N_DUPLICATES, replace=False))
    copies = items.iloc[sources].copy()
    copies["duplicate_of"] = sources
    copies["text"] = [_perturb(rng, t) for t in copies["text"]]
    month_end = copies["month"].map(lambda m: month_bounds(m)[1] - pd.Timedelta(seconds=1))
    later = copies["time"] + pd.to_timedelta(rng.integers(3_600, 3 * 86_400, len(copies)), unit="s")
    copies["time"] = later.where(later <= month_end, month_end)
    return pd.concat([items, copies], ignore_index=True)


def _with_empties(rng: np.random.Generator, items: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for channel, texts in EMPTY_TEXTS.items():
        for empty in texts:
            month = SAMPLE_MONTHS[int(rng.integers(len(SAMPLE_MONTHS)))]
            start, end = month_bounds(month)
            rows.append({"channel": channel, "theme": EMPTY_THEME, "month": month,
                         "time": random_times(rng, start, end, 1)[0], "text": empty, "subject": "",
                         "duplicate_of": -1,
                         "account_id": "" if channel == "app_reviews" else accounts["account_id"].iloc[
                             int(rng.integers(len(accounts)))]})
    return pd.concat([items, pd.DataFrame(rows)], ignore_index=True)


def _scores(rng: np.random.Generator, themes: pd.Series, low: int, high: int, centre: float) -> np.ndarray:
    """Survey scores: happy for off-topic notes, lower for complaints."""
    shift = themes.map({text.NOISE: 3.0, text.DARK_MODE: 1.5}).fillna(0.0).to_numpy()
    spread = (high - low) / 4
    return np.clip(np.round(centre + shift * spread / 2 + spread * rng.standard_normal(len(themes))),
                   low, high).astype(int)


def _channel_frame(rng: np.random.Generator, channel: str, rows: pd.DataFrame,
                   accounts: pd.DataFrame) -> pd.DataFrame:
    account = accounts.set_index("account_id")
    if channel == "support":
        return pd.DataFrame({"ticket_id": rows["id"], "created_at": rows["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "account_id": rows["account_id"],
                             "plan": account.loc[rows["account_id"], "plan"].to_numpy(),
                             "subject": rows["subject"], "description": rows["text"]})
    if channel == "sales":
        return pd.DataFrame({"note_id": rows["id"], "date": rows["time"].dt.strftime("%Y-%m-%d"),
                             "account": rows["account_id"],
                             "arr": account.loc[rows["account_id"], "arr"].to_numpy(), "note": rows["text"]})
    if channel == "nps":
        return pd.DataFrame({"response_id": rows["id"], "submitted": rows["time"].dt.strftime("%Y-%m-%d %H:%M"),
                             "account_id": rows["account_id"], "score": _scores(rng, rows["theme"], 0, 10, 6.0),
                             "comment": rows["text"]})
    return pd.DataFrame({"review_id": rows["id"], "review_date": rows["time"].dt.strftime("%Y-%m-%d"),
                         "rating": _scores(rng, rows["theme"], 1, 5, 2.6), "review_text": rows["text"]})


ID_FORMATS = {"support": "T-{:06d}", "sales": "N{:05d}", "nps": "nps_{:05d}", "app_reviews": "rev-{:06d}"}
ID_START = {"support": 104_001, "sales": 5_001, "nps": 1, "app_reviews": 880_001}


def _demand_truth(items: pd.DataFrame) -> dict:
    real = items[(items["duplicate_of"] < 0) & (items["theme"] != EMPTY_THEME)]
    counts = real.pivot_table(index="month", columns="theme", values="id", aggfunc="count", fill_value=0)
    share = counts.div(counts.sum(axis=1), axis=0)
    mapped = counts[list(PRODUCT_THEMES)]
    mapped_share = mapped.div(mapped.sum(axis=1), axis=0)
    earlier = counts.drop(index=REPORT_PERIOD).sum() / counts.drop(index=REPORT_PERIOD).to_numpy().sum()
    return {
        "counts_by_month": {m: {t: int(v) for t, v in row.items()} for m, row in counts.iterrows()},
        "share_by_month": {m: {t: rounded(v) for t, v in row.items()} for m, row in share.iterrows()},
        "share_of_taxonomy_themes_by_month": {m: {t: rounded(v) for t, v in row.items()}
                                              for m, row in mapped_share.iterrows()},
        "share_all_months": {t: rounded(v) for t, v in (counts.sum() / counts.to_numpy().sum()).items()},
        "emerging": {"theme": EMERGING, "share_before": rounded(earlier[EMERGING]),
                     "share_in_period": rounded(share.loc[REPORT_PERIOD, EMERGING]),
                     "cause": "Slack integration broke in 2026-10"},
        "fading": {"theme": FADING, "share_before": rounded(earlier[FADING]),
                   "share_in_period": rounded(share.loc[REPORT_PERIOD, FADING])},
    }


def write_feedback(out_dir: Path) -> tuple[list[Path], dict]:
    """Write ``out_dir/feedback/*`` and ``truth/feedback_labels.csv``; return files and truth."""
    rng = np.random.default_rng(SEED)
    folder = out_dir / "feedback"
    accounts = _accounts(rng)
    items = _with_empties(rng, _with_duplicates(rng, _originals(rng, accounts)), accounts)
    items = items.assign(row=np.arange(len(items))).sort_values(["channel", "time", "row"], kind="stable")
    items["id"] = ""
    for channel, group in items.groupby("channel", sort=True):
        items.loc[group.index, "id"] = [ID_FORMATS[channel].format(ID_START[channel] + k) for k in range(len(group))]
    id_of_row = items.set_index("row")["id"]
    files, hostile, labels = [], {}, []
    sources = set(items["duplicate_of"])
    for channel, name in FILES.items():
        rows = items[items["channel"] == channel].copy()
        eligible = np.flatnonzero(((rows["duplicate_of"] < 0) & ~rows["row"].isin(sources)
                                   & (rows["theme"] != EMPTY_THEME)).to_numpy())
        texts, hostile[f"feedback/{name}"] = inject_hostile(rows["text"].tolist(), rng, eligible)
        rows["text"] = texts
        files.append(write_csv(_channel_frame(rng, channel, rows, accounts), folder / name))
        labels.append(pd.DataFrame({
            "channel": channel, "id": rows["id"], "true_theme": rows["theme"],
            "taxonomy_theme": rows["theme"].where(rows["theme"].isin(PRODUCT_THEMES) | (rows["theme"] == EMPTY_THEME),
                                                  "unmapped"),
            "month": rows["month"],
            "is_duplicate_of": rows["duplicate_of"].map(lambda r: id_of_row[r] if r >= 0 else ""),
        }))
    files.append(write_csv(accounts, folder / "accounts.csv"))
    files.append(write_csv(pd.concat(labels, ignore_index=True), out_dir / "truth" / "feedback_labels.csv"))
    per_channel = items.groupby("channel").size()
    truth = {
        "files": {channel: f"feedback/{name}" for channel, name in FILES.items()}
        | {"accounts": "feedback/accounts.csv", "labels": "truth/feedback_labels.csv"},
        "columns": {"support": {"id": "ticket_id", "text": ["subject", "description"], "date": "created_at",
                                "account": "account_id"},
                    "sales": {"id": "note_id", "text": "note", "date": "date", "account": "account"},
                    "nps": {"id": "response_id", "text": "comment", "date": "submitted", "account": "account_id"},
                    "app_reviews": {"id": "review_id", "text": "review_text", "date": "review_date"}},
        "items": len(items), "items_by_channel": {k: int(v) for k, v in per_channel.items()},
        "accounts": len(accounts),
        "near_duplicates": N_DUPLICATES,
        "near_duplicates_by_channel": {k: int(v) for k, v in items[items["duplicate_of"] >= 0]
                                       .groupby("channel").size().items()},
        "empty_texts": {channel: len(texts) for channel, texts in EMPTY_TEXTS.items()},
        "whitespace_only_texts": {channel: sum(1 for t in texts if t and not t.strip())
                                  for channel, texts in EMPTY_TEXTS.items()},
        "true_themes": [*PRODUCT_THEMES, text.DARK_MODE, text.NOISE],
        "expected_mapping": {text.DARK_MODE: "unmapped", text.NOISE: "unmapped"},
        "planted_share_by_month": {m: {t: rounded(v) for t, v in _month_shares(m).items()} for m in SAMPLE_MONTHS},
        "demand": _demand_truth(items),
        "hostile_text": hostile,
    }
    return files, truth
