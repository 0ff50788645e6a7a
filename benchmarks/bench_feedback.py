"""Feedback clustering benchmark: quality on labelled public sets, speed and memory at 100k texts.

    .venv/bin/python benchmarks/bench_feedback.py [--data ../shared/data/feedback] [--speed-texts 100000]
                                                  [--skip-speed] [--skip-baselines] [--skip-quality]

Quality: CLINC150 (150 intents in 10 domains) and HWU64 (64 intents in 18 scenarios), whole and
as 14 seeded random subsets (10-150 intents, 500-20,000 texts, balanced or Zipf-skewed),
embedded with all-MiniLM-L6-v2 and clustered with the default parameters (the number of issues
chosen by the kit). Per set: adjusted Rand index of the issues against the intents ("other"
counts as one more group), next to MiniLM + k-means given the true k in the same run; whether
the k chosen sat on a bound of the range searched; the themes' ARI against the domains or
scenarios (domains from benchmarks/clinc150_domains.json). The whole sets are clustered twice to
check determinism; with baselines, TF-IDF + k-means (true k) and a BERTopic-style UMAP + HDBSCAN
run on them too.

Speed: ``--speed-texts`` unique texts made by joining two random utterances of the two sets.
Embedding throughput of the kit (hashing, cache look-up and write included) against calling
``SentenceTransformer.encode`` directly; a warm-cache rerun with 10% new texts; clustering and
description time (fixed k = 150, and automatic k) against one plain scikit-learn k-means with
k = 150 on the same embeddings, timed without tracing; and the peak resident memory of a whole
cold run (model, embedding, clustering, description) in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prodops_lib.feedback.cluster import cluster_embeddings  # noqa: E402
from prodops_lib.feedback.describe import describe_themes  # noqa: E402
from prodops_lib.feedback.embed import SentenceEmbedder, embed_texts  # noqa: E402

SETS = {"CLINC150": ("clinc150.csv", "intent"), "HWU64": ("hwu64.csv", "label")}
AUTO: dict = {}  # the defaults: the kit chooses the number of issues itself
PARENTS = {"CLINC150": "domain", "HWU64": "scenario"}
# (set, intents, texts, seed, Zipf-skewed): random subsets of intents and rows, as a user's
# export would be: 10 to 150 issues, 500 to 20,000 texts, balanced or with a long tail
SUBSETS = [(name, None, None, 0, False) for name in SETS] + [
    spec for seed in (0, 1) for spec in (
        ("CLINC150", 10, 500, seed, False), ("CLINC150", 30, 2000, seed, True), ("CLINC150", 60, 6000, seed, False),
        ("CLINC150", 150, 20000, seed, True), ("HWU64", 12, 800, seed, True), ("HWU64", 30, 3000, seed, False),
        ("HWU64", 64, 8000, seed, True))]


def timed(function, *args, **kwargs):
    """Result and wall seconds of one call (not traced: tracing slows Python code, not C)."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def measured(function, *args, **kwargs):
    """Result, wall seconds and peak traced memory (MB) of one call."""
    tracemalloc.start()
    result, seconds = timed(function, *args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def load_set(folder: Path, name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, intents and their parents (CLINC150 domains, HWU64 scenarios)."""
    file, label = SETS[name]
    frame = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    frame = frame[frame[label] != "oos"]  # CLINC's out-of-scope queries are not one intent
    if name == "CLINC150":
        domains = json.loads((Path(__file__).parent / "clinc150_domains.json").read_text(encoding="utf-8"))["domains"]
        parent_of = {intent: domain for domain, intents in domains.items() for intent in intents}
        parents = frame[label].map(parent_of).to_numpy()
    else:
        parents = frame["scenario"].to_numpy()
    return frame["text"].tolist(), frame[label].to_numpy(), parents


def subset(rows: np.ndarray, truth: np.ndarray, intents: int | None, size: int | None, seed: int,
           skewed: bool) -> np.ndarray:
    """Row positions of a seeded subset: ``intents`` random intents, ``size`` random rows of
    them; skewed: row weights follow a Zipf-like law over the intents (a few large issues, a
    long tail)."""
    if intents is None:
        return rows
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.unique(truth), min(intents, len(np.unique(truth))), replace=False)
    pool = rows[np.isin(truth, chosen)]
    weights = None
    if skewed:
        weight = dict(zip(rng.permutation(chosen), 1.0 / np.arange(1, len(chosen) + 1) ** 0.8, strict=True))
        counts = pd.Series(truth[pool]).value_counts()
        weights = np.array([weight[t] / counts[t] for t in truth[pool]])
        weights /= weights.sum()
    return np.sort(rng.choice(pool, min(size, len(pool)), replace=False, p=weights))


def kmeans_labels(vectors, k: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=1, random_state=seed).fit_predict(vectors)


def tfidf_kmeans(texts: list[str], k: int) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # scikit-learn's defaults: the strongest of the settings tried on CLINC150 (ARI 0.29; removing
    # English stop words drops it to 0.05, since short queries are mostly stop words)
    matrix = TfidfVectorizer().fit_transform(texts)
    return kmeans_labels(matrix, k)


def umap_hdbscan(vectors: np.ndarray) -> np.ndarray:
    import umap
    from sklearn.cluster import HDBSCAN

    reduced = umap.UMAP(n_components=5, n_neighbors=15, min_dist=0.0, metric="cosine",
                        random_state=0).fit_transform(vectors)
    return HDBSCAN(min_cluster_size=10).fit_predict(reduced)


def score(name: str, method: str, truth: np.ndarray, labels: np.ndarray, seconds: float, peak: float) -> dict:
    row = {"set": name, "method": method, "groups": len(np.unique(labels)),
           "ARI": adjusted_rand_score(truth, labels), "NMI": normalized_mutual_info_score(truth, labels),
           "seconds": seconds, "peak_MB": peak}
    print(f"  {method:<38} groups {row['groups']:>4}  ARI {row['ARI']:.3f}  NMI {row['NMI']:.3f}  "
          f"{seconds:7.1f} s  {peak:7.0f} MB", flush=True)
    return row


def quality(folder: Path, embedder: SentenceEmbedder, baselines: bool) -> pd.DataFrame:
    """Issue-level ARI against the intents and theme-level ARI against their parents on every
    set of ``SUBSETS``, next to MiniLM + k-means given the true k (the bar)."""
    rows, loaded = [], {}
    for name, intents, size, seed, skewed in SUBSETS:
        if name not in loaded:
            texts, truth, parents = load_set(folder, name)
            embeddings = embed_texts(embedder, texts)
            print(f"{name}: {len(texts):,} texts, {len(np.unique(truth))} intents in {len(np.unique(parents))} "
                  f"groups (embedded in {embeddings.seconds:.1f} s, {embeddings.n_cached:,} from cache)", flush=True)
            loaded[name] = texts, truth, parents, embeddings.vectors
        texts, truth, parents, vectors = loaded[name]
        take = subset(np.arange(len(truth)), truth, intents, size, seed, skewed)
        label = name if intents is None else f"{name} {intents} intents/{len(take):,}{' skewed' if skewed else ''}/seed {seed}"
        k_true = len(np.unique(truth[take]))
        result, seconds, peak = measured(cluster_embeddings, vectors[take], seed=0, **AUTO)
        searched = result.quality["k"]
        row = {"set": label, "texts": len(take), "true_k": k_true, "k": result.k, "issues": result.n_issues,
               "on_bound": bool(result.k in (searched.min(), searched.max())), "other": result.n_other,
               "ARI": adjusted_rand_score(truth[take], result.issue_ids),
               "baseline_ARI": adjusted_rand_score(truth[take], kmeans_labels(vectors[take], k_true)),
               "themes": result.n_themes, "true_parents": len(np.unique(parents[take])),
               "theme_ARI": adjusted_rand_score(parents[take], result.theme_ids), "seconds": seconds, "peak_MB": peak}
        row["gap"] = row["ARI"] - row["baseline_ARI"]
        if intents is None:
            again = cluster_embeddings(vectors[take], seed=0, **AUTO)
            row["deterministic"] = bool(np.array_equal(again.issue_ids, result.issue_ids))
            if baselines:
                for method, labels in (("TF-IDF + k-means (true k)", tfidf_kmeans(texts, k_true)),
                                       ("BERTopic-style UMAP + HDBSCAN", umap_hdbscan(vectors))):
                    print(f"  {method}: ARI {adjusted_rand_score(truth, labels):.3f}", flush=True)
        rows.append(row)
        print(f"  {label:<44} k {result.k:>4} (true {k_true:>3}{', ON A BOUND' if row['on_bound'] else ''})  "
              f"ARI {row['ARI']:.3f} vs baseline {row['baseline_ARI']:.3f} ({row['gap']:+.3f})  "
              f"themes {result.n_themes:>2} (true {row['true_parents']:>2}) ARI {row['theme_ARI']:.3f}  "
              f"{seconds:5.1f} s", flush=True)
    table = pd.DataFrame(rows)
    print(f"\nissue level: mean ARI {table['ARI'].mean():.3f} vs baseline {table['baseline_ARI'].mean():.3f} "
          f"(bar: at least the baseline); worst gap {table['gap'].min():+.3f} (bar: above -0.05); "
          f"k on a bound of the searched range: {int(table['on_bound'].sum())} of {len(table)} (bar: 0)")
    print(f"theme level: mean ARI against CLINC150 domains / HWU64 scenarios {table['theme_ARI'].mean():.3f} "
          f"(min {table['theme_ARI'].min():.3f}, max {table['theme_ARI'].max():.3f})")
    return table


def speed_texts(folder: Path, count: int, seed: int = 0) -> list[str]:
    pool = [t for name in SETS for t in load_set(folder, name)[0]]
    rng = np.random.default_rng(seed)
    texts = list(dict.fromkeys(f"{pool[a]}. {pool[b]}" for a, b in rng.integers(0, len(pool), (int(count * 1.05), 2))))
    return texts[:count]


def speed_items(texts: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"item_id": [f"t{i}" for i in range(len(texts))], "source": "bench", "text": texts,
                         "month": "2026-10", "customer_id": pd.array(rng.integers(0, 5000, len(texts)).astype(str), dtype="string"),
                         "arr": 1000.0, "votes": 1, "rating": np.nan, "nps": np.nan, "segment": "SMB"})


def themes(vectors: np.ndarray, items: pd.DataFrame, **options):
    """The kit's clustering and description, as the report runs them; returns the clustering
    and the seconds each took."""
    clustering, clustering_seconds = timed(cluster_embeddings, vectors, seed=0, **options)
    _, describe_seconds = timed(describe_themes, items, vectors, clustering.issue_ids, clustering.theme_of_issue,
                                taxonomy=[], taxonomy_vectors=np.zeros((0, vectors.shape[1])))
    return clustering, clustering_seconds, describe_seconds


def pipeline_memory(folder: Path, count: int) -> None:
    """Run in a fresh process: a cold run on ``count`` texts (load the model, embed every text
    into an empty cache, choose k, cluster, describe); prints its peak resident memory."""
    texts = speed_texts(folder, count)
    with tempfile.TemporaryDirectory() as cache:
        embeddings, embed_seconds = timed(embed_texts, SentenceEmbedder(cache_dir=cache), texts)
    clustering, clustered, described = themes(embeddings.vectors, speed_items(texts), **AUTO)
    print(json.dumps({"embed_seconds": embed_seconds, "themes_seconds": clustered + described, "k": clustering.k,
                      "peak_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10}))


def speed(folder: Path, count: int) -> None:
    texts = speed_texts(folder, count)
    print(f"\nSpeed and memory on {len(texts):,} unique texts", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        embedder = SentenceEmbedder(cache_dir=cache)
        model = embedder.model
        _, direct = timed(model.encode, texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
        inside = []  # seconds the kit spends inside the model's encode(), to isolate its own work
        model_encode = embedder.encode

        def encode_timed(batch: list[str]) -> np.ndarray:
            vectors, seconds = timed(model_encode, batch)
            inside.append(seconds)
            return vectors

        embedder.encode = encode_timed
        cold = embed_texts(embedder, texts)
        own = cold.seconds - sum(inside)
        print(f"  encode() directly: {len(texts) / direct:8.0f} texts/s ({direct:.0f} s)")
        print(f"  kit, cold cache:   {len(texts) / cold.seconds:8.0f} texts/s ({cold.seconds:.0f} s; "
              f"{cold.seconds / direct - 1:+.1%} against the direct call, run-to-run noise included)")
        print(f"  kit's own work (hashing, cache look-up and write, outside encode()): {own:.2f} s = "
              f"{own / direct:.2%} of the direct encode time (target: overhead about 0)", flush=True)
        fresh = speed_texts(folder, count // 10, seed=1)
        warm_texts = texts[: len(texts) - len(fresh)] + fresh
        warm = embed_texts(embedder, warm_texts)
        print(f"  warm rerun, 10% new: {warm.seconds:.1f} s = {warm.seconds / cold.seconds:.2f}x the cold run "
              f"({warm.n_cached:,} from cache; target <= 0.20x)", flush=True)
        vectors = cold.vectors
    del embedder, model
    plain_k = 150
    _, plain = timed(kmeans_labels, vectors, plain_k)
    print(f"  plain k-means (scikit-learn, k={plain_k}, one k-means++ start): {plain:.1f} s", flush=True)
    items = speed_items(texts)
    _, clustered, described = themes(vectors, items, n_issues=plain_k)
    print(f"  kit, fixed k={plain_k}: clustering (centring, smoothing, k-means, splits) {clustered:.1f} s = "
          f"{clustered / plain:.2f}x plain k-means; description (names, quotes, terms) {described:.1f} s", flush=True)
    clustering, clustered, described = themes(vectors, items, **AUTO)
    print(f"  kit, automatic k (chose {clustering.k}; {len(clustering.quality)} candidates on a 10,000-text "
          f"sample): clustering {clustered:.1f} s = {clustered / plain:.2f}x plain k-means (target <= 2x); "
          f"with description {clustered + described:.1f} s = {(clustered + described) / plain:.2f}x", flush=True)
    child = subprocess.run([sys.executable, __file__, "--pipeline-memory", "--data", str(folder),
                            "--speed-texts", str(count)], capture_output=True, text=True, check=True)
    run = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"  whole cold run in a fresh process (load model, embed {count:,} texts, choose k = {run['k']}, "
          f"cluster, describe): {run['embed_seconds']:.0f} s + {run['themes_seconds']:.0f} s, "
          f"peak resident memory {run['peak_MB']:.0f} MB (target < 2,048 MB)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "feedback")
    parser.add_argument("--speed-texts", type=int, default=100_000)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--pipeline-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.data / "clinc150.csv").is_file():
        sys.exit(f"--data: no clinc150.csv in {args.data}; point it at shared/data/feedback")
    if args.pipeline_memory:
        pipeline_memory(args.data, args.speed_texts)
        return
    if not args.skip_quality:
        embedder = SentenceEmbedder(cache_dir=ROOT / ".cache" / "embeddings")
        table = quality(args.data, embedder, not args.skip_baselines)
        print("\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if not args.skip_speed:
        speed(args.data, args.speed_texts)


if __name__ == "__main__":
    main()
