"""The recommender's maths: fit a model on an interaction matrix, score items for a shopper.

numpy/scipy in, numpy out, no Django. The only module that imports LightFM.

Axes: `n_users` rows and `n_items` columns of the interaction matrix; `k` latent dimensions;
`n_features` item-feature columns (the catalog's tokens, WITHOUT identity columns: the engine adds
per-item identity columns itself where a model needs them).

The model is a blend of three parts, each optional, with weights chosen on temporal hold-outs:

    score(u, j) = w_factor * (u . V[j]) + item_bias[j] + w_neighbour * sum_h w_h S[h, j] / sum_h w_h

- factor part: iALS (implicit) or LightFM-WARP user/item vectors. Always fitted: it folds a session
  into a user vector, and it embeds items that arrive after training from their features.
- `item_bias`: the additive per-item term, already weighted: w_popularity * log-popularity prior
  (+ w_factor * LightFM's own item bias when LightFM is the factor model).
- neighbour part: `similar` (S), a sparse item-item matrix; EASE (closed-form item-item regression,
  Steck 2019) over the most-interacted items, each row cut to its largest positive entries, or cosine
  neighbours. The history h with weights w_h are the shopper's items.

Why a blend: on both benchmark datasets an item-item EASE model beats every factor model on
new-to-user items, and on grocery data popularity beats everything personal; the blend weights are
picked per shop by `fit(algorithm="auto", validation=...)`, which keeps what wins on the shop's own
recent history (see tests/bench/quality_offline.py for the research behind the defaults).
"""

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM
from threadpoolctl import threadpool_limits

from personalize.recommend import evaluation

FACTORS = ("als", "lightfm")
NEIGHBOURS = ("ease", "cosine")

# Defaults of every parameter `fit` understands. Weights are relative to interactions rescaled so
# that their mean non-zero value is 1 (the caller's event-type weights and decay keep their ratios).
DEFAULTS: dict = {
    "factor": "als",
    # iALS (implicit): confidence = alpha * weight; L2 = regularization * mean items per user
    "factors": 64,
    "regularization": 0.5,
    "alpha": 3.0,
    "iterations": 10,
    # LightFM
    "components": 64,
    "loss": "warp",
    "learning_rate": 0.05,
    "epochs": 20,
    "min_updates": 50_000,  # small data gets more epochs: at least this many SGD steps in all
    "max_sampled": 30,
    "item_alpha": 0.0,
    "use_features": True,
    # neighbour part
    "neighbour": "ease",
    "ease_lambda": 16.0,  # times the mean diagonal of the item Gram matrix; rows scaled to max ~1
    "ease_items": 6000,  # EASE inverts an (m, m) matrix over the m most-interacted items
    "neighbours": 200,  # kept per row of `similar`
    # the blend (the "hybrid" preset; "auto" with validation folds picks its own)
    "w_factor": 0.5,
    "w_neighbour": 1.0,
    "w_popularity": 1.0,
    # cold start: ridge strength of the map from item features to factor vectors (ALS)
    "feature_ridge": 0.1,
    # weights the models see: "raw" (w / scale), "log" (log1p of that: repeats count less) or "binary"
    "transform": "log",
    "seed": 42,
}

# `fit(algorithm=NAME)` presets: the blend weights each named algorithm stands for. "ease",
# "item-knn" and "popularity" have no factor part: references for benchmarks, not for serving.
PRESETS: dict[str, dict] = {
    "hybrid": {},
    "als": {"factor": "als", "w_factor": 1.0, "w_neighbour": 0.0, "w_popularity": 0.0},
    "lightfm-warp": {"factor": "lightfm", "w_factor": 1.0, "w_neighbour": 0.0, "w_popularity": 0.0},
    "ease": {"neighbour": "ease", "w_factor": 0.0, "w_neighbour": 1.0, "w_popularity": 0.0},
    "item-knn": {"neighbour": "cosine", "w_factor": 0.0, "w_neighbour": 1.0, "w_popularity": 0.0},
    "popularity": {"w_factor": 0.0, "w_neighbour": 0.0, "w_popularity": 1.0},
}

# What `fit(algorithm="auto")` tries on each validation fold (every combination; the factor and
# neighbour models are fitted once per fold, only the cheap blend is repeated). The factor weight is
# never 0: it is all serving has for a known shopper with no session yet, and for new products.
AUTO_GRID: dict = {
    "w_factor": (0.25, 0.5, 1.0, 2.0, 4.0),
    "w_neighbour": (0.0, 0.1, 0.3, 1.0, 3.0, 10.0),
    "w_popularity": (0.0, 1.0),
}
# Validation users x items scored at once per fold (bounds selection time and memory).
AUTO_BUDGET = 12_000_000
# Per part (factor, neighbour, popularity) and user, the best items among which each blend is ranked.
SELECTION_POOL = 300


@dataclass
class Model:
    """Everything serving needs, numpy only. Shapes as in the module docstring."""

    algorithm: str  # e.g. "hybrid(als+ease+pop)", "als", "lightfm-warp", "popularity"
    params: dict  # every parameter used (DEFAULTS filled in) + how it was chosen ("selection")
    item_vectors: np.ndarray  # (n_items, k) float32
    item_bias: np.ndarray  # (n_items,) float32: the additive per-item term of `score`, already weighted
    user_vectors: np.ndarray  # (n_users, k) float32, trained users
    feature_vectors: np.ndarray | None = None  # (n_features, k): embeds a NEW item from its features
    feature_bias: np.ndarray | None = None  # (n_features,)
    similar: sp.csr_matrix | None = None  # (n_items, n_items): row i = the neighbours of i, weighted
    blend: dict | None = None  # {"factor": w, "neighbour": w, "popularity": w} as used by `score`
    item_gram: np.ndarray | None = None  # (k, k) float32: item_vectors' Gram matrix, for fold-in


# --- input helpers ------------------------------------------------------------------------------


def interaction_matrix(
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    ts: np.ndarray,
    *,
    shape: tuple[int, int],
    now: float,
    half_life_days: float | None,
    combine: str = "sum",
) -> sp.csr_matrix:
    """(n_users, n_items) float32: per (user, item), the sum (or max) over its events of
    weight * 0.5 ** (age_days / half_life_days).

    users, items, weights, ts: (n_events,) arrays; ts and now in seconds. With "sum" repeats add up;
    with "max" a pair weighs what its strongest (usually latest) event does.
    """
    w = np.asarray(weights, dtype=np.float64)
    if half_life_days:
        w = w * np.power(0.5, (now - np.asarray(ts, dtype=np.float64)) / 86400.0 / half_life_days)
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if combine == "max" and w.size:
        key = users * shape[1] + items
        order = np.lexsort((w, key))
        last = np.r_[key[order][1:] != key[order][:-1], True]
        users, items, w = users[order][last], items[order][last], w[order][last]
    elif combine != "sum":
        raise ValueError(f"unknown combine {combine!r}")
    matrix = sp.csr_matrix((w.astype(np.float32), (users, items)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def fold_windows(
    ts: np.ndarray, *, n_folds: int = 2, fold_days: float | None = None, fold_fraction: float = 0.1
) -> list[tuple[float, float]]:
    """The [start, end) windows (seconds) of `temporal_folds`, newest first: the f-th most recent
    `fold_days` (or `fold_fraction` of the events) before the newest event; a window with no event
    before it, or none in it, ends the list."""
    ts = np.asarray(ts, dtype=np.float64)
    windows = []
    end = float(ts.max()) + 1.0 if ts.size else 0.0
    for f in range(n_folds):
        if fold_days:
            start = end - fold_days * 86400.0
        else:
            start = float(np.quantile(ts, max(0.0, 1.0 - fold_fraction * (f + 1)))) if ts.size else 0.0
        if not (ts < start).any() or not ((ts >= start) & (ts < end)).any():
            break
        windows.append((start, end))
        end = start
    return windows


def temporal_folds(
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    ts: np.ndarray,
    *,
    shape: tuple[int, int],
    half_life_days: float | None,
    n_folds: int = 2,
    fold_days: float | None = None,
    fold_fraction: float = 0.1,
    combine: str = "sum",
    windows: list[tuple[float, float]] | None = None,
) -> list[tuple[sp.csr_matrix, sp.csr_matrix]]:
    """Rolling-origin validation folds for `fit(validation=...)`, newest first.

    Fold f holds out the f-th most recent window (`fold_days` long, or `fold_fraction` of the events;
    or the given [start, end) `windows`, see `fold_windows`) and trains on everything before it,
    decayed to the window's start. Returns [(train_f, holdout_f)]: train_f (n_users, n_items) float32
    weighted like `interaction_matrix`, holdout_f binary.
    """
    ts = np.asarray(ts, dtype=np.float64)
    if windows is None:
        windows = fold_windows(ts, n_folds=n_folds, fold_days=fold_days, fold_fraction=fold_fraction)
    folds = []
    for start, end in windows:
        before = ts < start
        window = (ts >= start) & (ts < end)
        train = interaction_matrix(
            users[before],
            items[before],
            weights[before],
            ts[before],
            shape=shape,
            now=start,
            half_life_days=half_life_days,
            combine=combine,
        )
        holdout = sp.csr_matrix(
            (np.ones(int(window.sum()), np.float32), (users[window], items[window])), shape=shape
        )
        holdout.data[:] = 1.0
        folds.append((train, holdout))
    return folds


# --- fitting ------------------------------------------------------------------------------------


def fit(
    interactions: sp.spmatrix,
    item_features: sp.spmatrix | None,
    *,
    algorithm: str = "auto",
    params: dict | None = None,
    num_threads: int = 2,
    validation: sp.spmatrix | tuple | list | None = None,
    cold_start: bool = True,
) -> Model:
    """Fit a model on `interactions`.

    interactions: (n_users, n_items) float32 weights >= 0 (event-type weighted and time-decayed by the
        caller; see `interaction_matrix`). Zero rows/columns are fine.
    item_features: (n_items, n_features) or None; identity columns NOT included (added here where
        needed). Rows are normalised to sum to 1 here.
    algorithm: "auto", a preset name ("hybrid", "als", "lightfm-warp", "ease", "item-knn",
        "popularity"), or a name a previous fit returned (e.g. "hybrid(als+ease+pop)"), in which case
        `params` should be that model's params and are used as they are.
    params: overrides of DEFAULTS (unknown keys are kept in model.params but ignored).
    validation (for "auto"): folds to choose on, newest first: a list of (train_f, holdout_f) pairs
        as `temporal_folds` returns, or of folds already scored (`FoldScores` from `score_folds` or
        `score_fold`, with the same params), or a single holdout matrix meaning [(interactions, holdout)].
        holdout_f: (n_users, n_items), what happened after train_f's data; only its new-to-user
        items count. "auto" keeps the blend whose worst fold beats popularity by the most, then fits
        it on `interactions`. Without validation, "auto" is the "hybrid" preset.
    cold_start: False skips the map from features to factors (`embed_items` then returns zeros) when
        the model is only evaluated on the items it was trained on.
    """
    interactions = _as_weights(interactions)
    features = _normalised_features(item_features, interactions.shape[1])
    chosen = dict(DEFAULTS)
    if algorithm == "auto":
        chosen.update(params or {})
        folds = _as_folds(interactions, validation)
        if folds:
            chosen.update(select(folds, features, params=chosen, num_threads=num_threads))
        else:
            chosen["selection"] = {"method": "default (no validation folds given)"}
    else:
        preset = algorithm.split("(")[0]
        if preset not in PRESETS:
            raise ValueError(f"unknown algorithm {algorithm!r}")
        chosen.update(PRESETS[preset])
        chosen.update(params or {})
    started = time.perf_counter()
    model = _fit_blend(interactions, features, chosen, num_threads, cold_start=cold_start)
    model.params["fit_seconds"] = round(time.perf_counter() - started, 3)
    return model


def _fit_blend(
    interactions: sp.csr_matrix,
    features: sp.csr_matrix | None,
    p: dict,
    num_threads: int,
    cold_start: bool = True,
) -> Model:
    scale = _weight_scale(interactions)
    weights = _transform(interactions, scale, p["transform"])
    factor = _fit_factor(weights, features, p, num_threads, cold_start=cold_start)
    w_f, w_n, w_p = float(p["w_factor"]), float(p["w_neighbour"]), float(p["w_popularity"])
    similar = _fit_neighbours(weights, p, num_threads) if w_n > 0 else None
    bias = w_f * factor["item_bias"] + w_p * popularity_prior(interactions)
    # the fold-in (user_vector) solves the iALS user step with the same L2 weight
    params = {**p, "weight_scale": scale, "als_lambda": _als_lambda(weights, p)}
    if factor.get("ips"):
        # LightFM's epochs and iALS's iterations are each one pass over every interaction
        params["factor_interactions_per_second_per_epoch"] = factor["ips"]
    feature_bias = None
    if factor["feature_vectors"] is not None:
        # a new item starts from what its feature-mates' bias (popularity prior included) predicts
        feature_bias = _ridge(features, bias[:, None], float(p["feature_ridge"]))[:, 0]
    return Model(
        algorithm=algorithm_name(p),
        params=params,
        item_vectors=factor["item_vectors"],
        item_bias=bias.astype(np.float32),
        user_vectors=factor["user_vectors"],
        feature_vectors=factor["feature_vectors"],
        feature_bias=feature_bias,
        similar=similar,
        blend={"factor": w_f, "neighbour": w_n if similar is not None else 0.0, "popularity": w_p},
        item_gram=(factor["item_vectors"].T @ factor["item_vectors"]).astype(np.float32),
    )


def algorithm_name(p: dict) -> str:
    """A readable name for a blend: "als", "ease", "hybrid(als+ease+pop)", "popularity", ..."""
    parts = []
    factor = "lightfm-warp" if p["factor"] == "lightfm" else "als"
    neighbour = "item-knn" if p["neighbour"] == "cosine" else "ease"
    if p["w_factor"] > 0:
        parts.append(factor.replace("-warp", "") if p["w_neighbour"] > 0 or p["w_popularity"] > 0 else factor)
    if p["w_neighbour"] > 0:
        parts.append(neighbour)
    if p["w_popularity"] > 0:
        parts.append("pop")
    if not parts or parts == ["pop"]:
        return "popularity"
    return parts[0] if len(parts) == 1 else f"hybrid({'+'.join(parts)})"


def popularity_prior(interactions: sp.spmatrix) -> np.ndarray:
    """(n_items,) float32 in [0, 1]: log(1 + distinct users) scaled by its maximum."""
    users = np.asarray((sp.csr_matrix(interactions) > 0).sum(axis=0)).ravel().astype(np.float64)
    top = math.log1p(users.max()) if users.size and users.max() > 0 else 1.0
    return (np.log1p(users) / top).astype(np.float32)


def _fit_factor(
    weights: sp.csr_matrix,
    features: sp.csr_matrix | None,
    p: dict,
    num_threads: int,
    cold_start: bool = True,
) -> dict:
    if p["factor"] == "lightfm":
        return _fit_lightfm(weights, features, p, num_threads)
    if p["factor"] != "als":
        raise ValueError(f"unknown factor model {p['factor']!r}")
    started = time.perf_counter()
    users, items = _fit_als(weights, p, num_threads)
    seconds = time.perf_counter() - started
    out = {
        "user_vectors": users,
        "item_vectors": items,
        "item_bias": np.zeros(items.shape[0], np.float32),
        "feature_vectors": None,
        "feature_bias": None,
        "ips": round(weights.nnz * int(p["iterations"]) / seconds) if seconds > 0 and weights.nnz else None,
    }
    if cold_start and features is not None and features.shape[1]:
        out["feature_vectors"] = _ridge(features, items, float(p["feature_ridge"]))
        out["feature_bias"] = np.zeros(features.shape[1], np.float32)
    return out


def _fit_als(weights: sp.csr_matrix, p: dict, num_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """iALS: (n_users, k), (n_items, k) float32."""
    from implicit.cpu.als import AlternatingLeastSquares

    n_users, n_items = weights.shape
    k = int(p["factors"])
    if weights.nnz == 0:
        return np.zeros((n_users, k), np.float32), np.zeros((n_items, k), np.float32)
    # implicit runs its own threads; BLAS threads on top of them slow it down (and it warns).
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(
            factors=k,
            regularization=_als_lambda(weights, p),
            alpha=float(p["alpha"]),
            iterations=int(p["iterations"]),
            num_threads=num_threads,
            random_state=int(p["seed"]),
        )
        als.fit(weights, show_progress=False)
    return np.ascontiguousarray(als.user_factors, np.float32), np.ascontiguousarray(
        als.item_factors, np.float32
    )


def _als_lambda(weights: sp.csr_matrix, p: dict) -> float:
    """The L2 weight scaled by the data: the same `regularization` suits a 10-item test and a shop."""
    per_user = weights.getnnz(axis=1)
    active = per_user[per_user > 0]
    return float(p["regularization"]) * (float(active.mean()) if active.size else 1.0)


def _fit_lightfm(weights: sp.csr_matrix, features: sp.csr_matrix | None, p: dict, num_threads: int) -> dict:
    """LightFM with per-item identity features (+ the catalog's features when `use_features`)."""
    n_users, n_items = weights.shape
    use_features = bool(p["use_features"]) and features is not None and features.shape[1] > 0
    item_features = None
    if use_features:
        # identity and catalog tokens share each row half and half
        item_features = _normalised_features(
            sp.hstack([sp.identity(n_items, dtype=np.float32, format="csr"), features], format="csr"), n_items
        )
    coo = weights.tocoo()
    binary = sp.coo_matrix((np.ones_like(coo.data), (coo.row, coo.col)), shape=coo.shape)
    model = LightFM(
        no_components=int(p["components"]),
        loss=str(p["loss"]),
        learning_rate=float(p["learning_rate"]),
        max_sampled=int(p["max_sampled"]),
        item_alpha=float(p["item_alpha"]),
        random_state=int(p["seed"]),
    )
    epochs = max(int(p["epochs"]), math.ceil(int(p["min_updates"]) / max(coo.nnz, 1)))
    started = time.perf_counter()
    if coo.nnz:
        model.fit(
            binary,
            item_features=item_features,
            sample_weight=coo,
            epochs=epochs,
            num_threads=num_threads,
        )
    else:  # LightFM needs at least one interaction to initialise
        model.fit_partial(binary, item_features=item_features, epochs=0)
    seconds = time.perf_counter() - started
    item_bias, item_vectors = model.get_item_representations(item_features)
    user_vectors = model.user_embeddings
    out = {
        "user_vectors": np.ascontiguousarray(user_vectors, np.float32),
        "item_vectors": np.ascontiguousarray(item_vectors, np.float32),
        "item_bias": np.asarray(item_bias, np.float32),
        "feature_vectors": None,
        "feature_bias": None,
        "ips": round(coo.nnz * epochs / seconds) if seconds > 0 and coo.nnz else None,
    }
    if use_features:
        out["feature_vectors"] = np.ascontiguousarray(model.item_embeddings[n_items:], np.float32)
        out["feature_bias"] = np.asarray(model.item_biases[n_items:], np.float32)
    elif features is not None and features.shape[1]:
        out["feature_vectors"] = _ridge(features, out["item_vectors"], float(p["feature_ridge"]))
        out["feature_bias"] = _ridge(features, out["item_bias"][:, None], float(p["feature_ridge"]))[:, 0]
    return out


def _fit_neighbours(weights: sp.csr_matrix, p: dict, num_threads: int) -> sp.csr_matrix:
    if p["neighbour"] == "cosine":
        return evaluation.cosine_neighbours(weights, int(p["neighbours"]))
    if p["neighbour"] != "ease":
        raise ValueError(f"unknown neighbour model {p['neighbour']!r}")
    return ease(
        weights,
        lam=float(p["ease_lambda"]),
        max_items=int(p["ease_items"]),
        keep=int(p["neighbours"]),
        num_threads=num_threads,
    )


def ease(
    weights: sp.csr_matrix, *, lam: float, max_items: int, keep: int, num_threads: int = 2
) -> sp.csr_matrix:
    """EASE item-item weights (n_items, n_items), over the `max_items` items with most users.

    B = I - P diagMat(1 / diag(P)), P = (X'X + lam * mean(diag(X'X)) * I)^-1; the diagonal is zero.
    Each row keeps its `keep` largest positive weights; rows and columns of other items are empty.
    """
    n_items = weights.shape[1]
    counts = np.asarray((weights > 0).sum(axis=0)).ravel()
    top = np.flatnonzero(counts > 0)
    if top.size > max_items:
        top = np.sort(np.argsort(-counts, kind="stable")[:max_items])
    if top.size < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    x = sp.csc_matrix(weights)[:, top]
    # float32: half the time of float64, and the strong ridge (lam x the mean diagonal) keeps the
    # matrix far from singular
    gram = (x.T @ x).toarray().astype(np.float32)
    diag = np.diag_indices_from(gram)
    gram[diag] += lam * max(float(gram[diag].mean()), 1e-9)
    from scipy.linalg import lapack

    with threadpool_limits(num_threads, "blas"):
        # Cholesky inverse: about twice as fast as a general inverse on this symmetric positive matrix
        chol, info = lapack.spotrf(gram, lower=False, overwrite_a=True)
        if info:
            raise np.linalg.LinAlgError(f"EASE Gram matrix is not positive definite ({info})")
        inv, info = lapack.spotri(chol, lower=False, overwrite_c=True)
    m = top.size
    block = 512  # row blocks keep the temporaries small next to the (m, m) inverse
    for lo in range(0, m, block):  # dpotri fills the upper triangle only: mirror it
        hi = min(lo + block, m)
        inv[lo:hi, :lo] = inv[:lo, lo:hi].T
        inv[lo:hi, lo:hi] = np.triu(inv[lo:hi, lo:hi]) + np.triu(inv[lo:hi, lo:hi], 1).T
    scale = -1.0 / np.diag(inv).copy()
    keep = min(keep, m - 1)
    rows, cols, vals = [], [], []
    for lo in range(0, m, block):
        hi = min(lo + block, m)
        b = inv[lo:hi] * scale[None, :]  # B[i, j] = -P[i, j] / P[j, j]
        b[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
        best = np.argpartition(-b, keep - 1, axis=1)[:, :keep]
        value = np.take_along_axis(b, best, axis=1)
        positive = value > 0
        rows.append(np.repeat(np.arange(lo, hi), keep)[positive.ravel()])
        cols.append(best[positive])
        vals.append(value[positive])
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    # rescale so a typical row's strongest neighbour weighs 1: the blend weights then mean the same
    # on a 10-item test matrix and on a shop (EASE's raw scale shrinks as lam grows)
    if vals.size:
        row_max = np.zeros(m)
        np.maximum.at(row_max, rows, vals)
        vals = vals / row_max[row_max > 0].mean()
    out = sp.csr_matrix(
        (vals.astype(np.float32), (top[rows], top[cols])), shape=(n_items, n_items), dtype=np.float32
    )
    out.sort_indices()
    return out


# Up to this many feature columns the ridge map is solved directly (an (n, n) float64 system: 128 MB at
# 4,000); beyond, by conjugate gradients.
RIDGE_DIRECT_FEATURES = 4000


def _ridge(features: sp.csr_matrix, targets: np.ndarray, mu: float, iterations: int = 200) -> np.ndarray:
    """(n_features, k): argmin_E |F E - T|^2 + mu |E|^2: (F'F + mu I) E = F'T solved directly for a
    catalog-sized vocabulary, by block conjugate gradients (F is sparse) for a bigger one (on the
    50,000-product bench shop, 700 features, 200 CG steps over 64 columns had cost seconds)."""
    f = sp.csr_matrix(features, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    ft = f.T.tocsr()
    if 0 < f.shape[1] <= RIDGE_DIRECT_FEATURES:
        from scipy.linalg import solve

        gram = (ft @ f).toarray()
        gram[np.diag_indices_from(gram)] += mu
        return solve(gram, ft @ t, assume_a="pos").astype(np.float32)

    def apply(e: np.ndarray) -> np.ndarray:
        return ft @ (f @ e) + mu * e

    e = np.zeros((f.shape[1], t.shape[1]))
    r = ft @ t
    d = r.copy()
    rr = (r * r).sum(axis=0)
    # a residual 1e-4 of the start: far below the noise of the factors it maps to
    tolerance = 1e-8 * max(float(rr.max()), 1e-30)
    for _ in range(iterations):
        if rr.max() <= tolerance:
            break
        ad = apply(d)
        step = rr / np.maximum((d * ad).sum(axis=0), 1e-30)
        e += d * step
        r -= ad * step
        rr_new = (r * r).sum(axis=0)
        d = r + d * (rr_new / np.maximum(rr, 1e-30))
        rr = rr_new
    return e.astype(np.float32)


# --- model selection ----------------------------------------------------------------------------


@dataclass
class FoldScores:
    """One validation fold scored for `select`: NDCG@10 of popularity and of every blend of a grid."""

    popularity: float  # NaN when the fold has no evaluable user
    blends: np.ndarray  # (len(combos),) NDCG@10 of each blend, in the order of `combos`
    users: int  # evaluated users (a sample of at most budget / n_items)
    combos: list  # the grid's (w_factor, w_neighbour, w_popularity) combinations
    seconds: float = 0.0  # what fitting and scoring the fold took


def blend_grid(grid: dict | None = None) -> list[tuple[float, float, float]]:
    """Every (w_factor, w_neighbour, w_popularity) combination of `grid` (default AUTO_GRID)."""
    grid = grid or AUTO_GRID
    return [
        (wf, wn, wp)
        for wf in grid["w_factor"]
        for wn in grid["w_neighbour"]
        for wp in grid["w_popularity"]
        if wf or wn or wp
    ]


def score_folds(
    folds: list[tuple[sp.csr_matrix, sp.csr_matrix]],
    features: sp.spmatrix | None,
    *,
    params: dict | None = None,
    num_threads: int = 2,
    grid: dict | None = None,
    budget: int = AUTO_BUDGET,
) -> list[FoldScores]:
    """Fit the factor and neighbour models once per (train_f, holdout_f) fold and score every blend of
    the grid on holdout_f (what `select` does; its result can be passed to `fit(validation=...)`)."""
    p = {**DEFAULTS, **(params or {})}
    if features is not None:
        features = _normalised_features(features, features.shape[0])
    out = []
    for train, holdout in folds:
        train = _as_weights(train)

        def parts(weights: sp.csr_matrix, users: np.ndarray, train=train):
            # catalog features only change the factor model itself for LightFM (for ALS: cold start only)
            factor = _fit_factor(weights, features if p["factor"] == "lightfm" else None, p, num_threads)
            scores = factor["user_vectors"][users] @ factor["item_vectors"].T + factor["item_bias"][None, :]
            return scores, _fit_neighbours(weights, p, num_threads)

        out.append(_score_fold(train, sp.csr_matrix(holdout), p, blend_grid(grid), budget, parts))
    return out


def score_fold(
    model: Model,
    train: sp.spmatrix,
    holdout: sp.spmatrix,
    *,
    num_threads: int = 2,
    grid: dict | None = None,
    budget: int = AUTO_BUDGET,
) -> FoldScores:
    """`score_folds` for one fold whose train matrix `model` was fitted on: its factor part (and its
    neighbour part when it has one) is reused instead of fitted again. The training pipeline scores its
    hold-out this way after evaluating the candidate, as a fold for the published model's blend."""
    p = {**DEFAULTS, **model.params}
    train = _as_weights(train)
    blend = model.blend or {}
    if train.shape != (model.user_vectors.shape[0], model.item_vectors.shape[0]):
        raise ValueError(f"the model was fitted on another matrix than {train.shape}")

    def parts(weights: sp.csr_matrix, users: np.ndarray):
        w_f, w_p = float(blend.get("factor", 0.0)), float(blend.get("popularity", 0.0))
        if w_f <= 0:
            raise ValueError("score_fold needs a model with a factor part")
        # item_bias = w_f * factor bias + w_p * popularity prior (see _fit_blend)
        bias = (model.item_bias - w_p * popularity_prior(train)) / w_f
        scores = model.user_vectors[users] @ model.item_vectors.T + bias[None, :]
        similar = model.similar if model.similar is not None else _fit_neighbours(weights, p, num_threads)
        return scores, similar

    return _score_fold(train, sp.csr_matrix(holdout), p, blend_grid(grid), budget, parts)


def _score_fold(train, holdout, params, combos, budget, parts) -> FoldScores:
    started = time.perf_counter()
    users = evaluation.eligible_users(train, holdout)
    n_items = train.shape[1]
    cap = max(1, budget // max(n_items, 1))
    if users.size > cap:
        users = np.sort(np.random.default_rng(int(params["seed"])).choice(users, cap, replace=False))
    if not users.size:
        return FoldScores(math.nan, np.full(len(combos), np.nan), 0, list(combos))
    weights = _transform(train, _weight_scale(train), params["transform"])
    truth = evaluation.ground_truth(train, holdout)[users]
    factor_scores, similar = parts(weights, users)
    history = weights[users]
    norm = np.asarray(history.sum(axis=1)).ravel()
    norm[norm == 0] = 1.0
    neighbour_scores = (sp.diags(1.0 / norm) @ history @ similar).toarray().astype(np.float32)
    prior = np.broadcast_to(popularity_prior(train)[None, :], factor_scores.shape)
    cols, (factor_part, neighbour_part, prior_part), invalid = _selection_pool(
        [factor_scores, neighbour_scores, prior], train[users] > 0
    )

    # evaluation.ranking_metrics' NDCG@10, with the ground truth looked up once per pool slot
    mask = np.where(invalid, -np.inf, 0.0).astype(np.float32)
    relevant = np.take_along_axis(truth.toarray() > 0, cols, axis=1) & ~invalid
    discounts = 1.0 / np.log2(np.arange(2, 12))
    ideal = np.cumsum(discounts)[np.minimum(truth.getnnz(axis=1), 10) - 1]

    def ndcg(scores: np.ndarray) -> float:
        best = evaluation.top_k(scores + mask, 10, overwrite=True)
        hits = np.take_along_axis(relevant, np.maximum(best, 0), axis=1) & (best >= 0)
        return float(np.mean((hits @ discounts[: hits.shape[1]]) / ideal))

    blends = np.array(
        [ndcg(wp * prior_part + wf * factor_part + wn * neighbour_part) for wf, wn, wp in combos]
    )
    seconds = time.perf_counter() - started
    return FoldScores(ndcg(prior_part), blends, int(users.size), list(combos), seconds)


def select(
    folds: list,
    features: sp.csr_matrix | None,
    *,
    params: dict,
    num_threads: int = 2,
    grid: dict | None = None,
    budget: int = AUTO_BUDGET,
) -> dict:
    """Choose blend weights on validation folds; returns the params to update (with "selection").

    folds: (train_f, holdout_f) pairs, or `FoldScores` already computed (`score_folds`, `score_fold`).
    For each pair the factor and neighbour models are fitted once on train_f; every weight combination
    of `grid` is scored by NDCG@10 on holdout_f (new-to-user items, users with >= 2 train items; at most
    budget / n_items users, a fixed random sample), each blend ranked among every part's
    SELECTION_POOL best unseen items per user (`_selection_pool`). The kept combination maximises the
    smallest, over folds, NDCG@10 / popularity's NDCG@10: it has to hold up in every period, not on
    average (on a seasonal month the average alone picks models that lose to popularity in the next one).
    """
    started = time.perf_counter()
    precomputed = [fold for fold in folds if isinstance(fold, FoldScores)]
    options = {"params": params, "num_threads": num_threads, "grid": grid, "budget": budget}
    scored_folds = [
        fold if isinstance(fold, FoldScores) else score_folds([fold], features, **options)[0]
        for fold in folds
    ]
    combos = scored_folds[0].combos
    if any(fold.combos != combos for fold in scored_folds):
        raise ValueError("the folds were scored on different grids")
    table = np.array([fold.blends for fold in scored_folds], dtype=np.float64)
    popular = np.array([fold.popularity for fold in scored_folds], dtype=np.float64)
    users_per_fold = [fold.users for fold in scored_folds]
    scored = ~np.isnan(popular)
    if not scored.any():
        return {"selection": {"method": "default (no evaluable users in the validation folds)"}}
    ratio = table[scored] / np.maximum(popular[scored], 1e-4)[:, None]
    worst = ratio.min(axis=0)
    best = int(np.argmax(worst))
    wf, wn, wp = combos[best]
    ranking = np.argsort(-worst, kind="stable")[:5]
    return {
        "w_factor": wf,
        "w_neighbour": wn,
        "w_popularity": wp,
        "selection": {
            "method": "max over blends of min over folds of NDCG@10 / popularity NDCG@10",
            "folds": len(folds),
            "users": users_per_fold,
            "popularity_ndcg": [round(float(x), 5) for x in popular],
            "chosen_ndcg": [round(float(x), 5) for x in table[:, best]],
            "worst_fold_ratio": round(float(worst[best]), 4),
            "runner_up": [
                {
                    "w_factor": combos[c][0],
                    "w_neighbour": combos[c][1],
                    "w_popularity": combos[c][2],
                    "worst_fold_ratio": round(float(worst[c]), 4),
                }
                for c in ranking[1:]
            ],
            # every blend tried: [w_factor, w_neighbour, w_popularity, NDCG@10 of each fold...]
            "grid": [[*combos[c], *(round(float(x), 5) for x in table[:, c])] for c in range(len(combos))],
            # folds scored before this call (by `score_folds` / `score_fold`) and what they took
            "scored_before": [round(fold.seconds, 2) for fold in precomputed],
            "seconds": round(time.perf_counter() - started, 2),
        },
    }


def _selection_pool(
    parts: list[np.ndarray], seen: sp.csr_matrix, size: int = SELECTION_POOL
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Where `select` ranks each blend: per user, the union of every part's `size` best unseen items.

    Returns (m, p) item indices, each part's float32 scores there, and the (m, p) mask of slots that
    must not be ranked (repeated, seen or missing items). With few items the pool is every item (an exact ranking); on a big
    catalog, a blend's top 10 outside every part's top `size` is possible but rare, and ranking 60
    blends over 50,000 items per user had cost more than fitting the models.
    """
    m, n_items = parts[0].shape
    if n_items <= 3 * size:
        cols = np.broadcast_to(np.arange(n_items), (m, n_items))
        invalid = seen.toarray()
    else:
        cols = np.concatenate([evaluation.top_k(part, size, exclude=seen) for part in parts], axis=1)
        cols.sort(axis=1)
        invalid = cols < 0
        invalid[:, 1:] |= cols[:, 1:] == cols[:, :-1]
        cols = np.where(invalid, 0, cols)
    pooled = [np.take_along_axis(np.asarray(part, dtype=np.float32), cols, axis=1) for part in parts]
    return cols, pooled, invalid


# --- scoring ------------------------------------------------------------------------------------


def user_vector(model: Model, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fold a session into a (k,) user vector without retraining.

    items: (h,) indices into the item axis; weights: (h,) event weights on the caller's scale.
    iALS factors: the iALS user step, (G + reg I + V' (C - I) V) u = V' C 1 with
    C = alpha * weight (transformed like training's), G the trained items' Gram matrix: the vector a
    trained user with this history would get. LightFM factors (trained for ranking, not for squared
    error): the confidence-weighted mean of the history's item vectors.
    """
    items = np.asarray(items, dtype=np.int64)
    k = model.item_vectors.shape[1]
    if not items.size:
        return np.zeros(k, np.float32)
    vectors = model.item_vectors[items].astype(np.float64)
    conf = float(model.params.get("alpha", 1.0)) * _transform_weights(
        weights, model.params.get("weight_scale", 1.0), model.params.get("transform", "raw")
    )
    if model.params.get("factor") == "lightfm":
        total = float(conf.sum())
        return (conf @ vectors / total if total > 0 else vectors.mean(axis=0)).astype(np.float32)
    gram = model.item_gram if model.item_gram is not None else model.item_vectors.T @ model.item_vectors
    reg = float(model.params.get("als_lambda", model.params.get("regularization", 10.0)))
    a = gram.astype(np.float64) + reg * np.eye(k) + (vectors.T * (conf - 1.0)) @ vectors
    b = vectors.T @ conf
    return np.linalg.solve(a, b).astype(np.float32)


def _neighbour_part(
    model: Model, history_items: np.ndarray, history_weights: np.ndarray
) -> np.ndarray | None:
    """(n_items,) the weighted mean of the history's `similar` rows, or None."""
    similar = model.similar
    if similar is None or not model.blend or not model.blend.get("neighbour") or not len(history_items):
        return None
    items = np.asarray(history_items, dtype=np.int64)
    weights = np.asarray(history_weights, dtype=np.float32)
    inside = items < similar.shape[0]
    items, weights = items[inside], weights[inside]
    total = float(np.abs(weights).sum())
    if not items.size or total <= 0:
        return None
    # the rows read straight from the CSR arrays: scipy's row indexing costs more than the sum here
    starts, ends = similar.indptr[items], similar.indptr[items + 1]
    cols = np.concatenate([similar.indices[a:b] for a, b in zip(starts, ends, strict=True)])
    vals = np.concatenate(
        [similar.data[a:b] * (w / total) for a, b, w in zip(starts, ends, weights.tolist(), strict=True)]
    )
    return np.bincount(cols, weights=vals, minlength=similar.shape[1]).astype(np.float32)


def score(
    model: Model,
    user_vec: np.ndarray | None,
    history_items: np.ndarray,
    history_weights: np.ndarray,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Scores (c,) float32 of `candidates` (or of every item, c = n_items); higher is better.

    user_vec: (k,) or None (then the factor part is 0); history_items/history_weights: (h,) the
    shopper's items and weights (any positive scale: only their ratios matter here).
    score = blend.factor * (user_vec . item_vectors[c]) + item_bias[c]
            + blend.neighbour * (history_weights / sum(history_weights)) @ similar[history_items][:, c]
    Items beyond the `similar` matrix (arrived after training) get no neighbour part.
    """
    blend = model.blend or {"factor": 1.0, "neighbour": 0.0}
    w_f = float(blend.get("factor", 1.0))
    if candidates is None:  # every item: the arrays as they are (indexing would copy them)
        out = model.item_bias.astype(np.float32, copy=True)
        if user_vec is not None and w_f:
            out += w_f * (model.item_vectors @ np.asarray(user_vec, dtype=np.float32))
        part = _neighbour_part(model, history_items, history_weights)
        if part is not None:
            size = min(part.size, out.size)
            out[:size] += float(blend["neighbour"]) * part[:size]
        return out
    idx = np.asarray(candidates, dtype=np.int64)
    out = model.item_bias[idx].astype(np.float32, copy=True)
    if user_vec is not None and w_f:
        out += w_f * (model.item_vectors[idx] @ np.asarray(user_vec, dtype=np.float32))
    part = _neighbour_part(model, history_items, history_weights)
    if part is not None:
        known = idx < part.size
        out[known] += float(blend["neighbour"]) * part[idx[known]]
    return out


def score_users(model: Model, user_rows: np.ndarray, history: sp.spmatrix | None) -> np.ndarray:
    """(len(user_rows), n_items) float32: `score` for trained users at once, with their trained vectors
    and their `history` rows (n_users, n_items) as the neighbour part's history."""
    rows = np.asarray(user_rows, dtype=np.int64)
    blend = model.blend or {"factor": 1.0, "neighbour": 0.0}
    n_items = model.item_bias.size
    if blend.get("factor"):
        out = model.user_vectors[rows] @ model.item_vectors.T
        out *= np.float32(blend["factor"])
        out += model.item_bias
    else:
        out = np.repeat(model.item_bias[None, :].astype(np.float32), rows.size, axis=0)
    if history is not None and model.similar is not None and blend.get("neighbour"):
        size = min(model.similar.shape[0], n_items)
        h = sp.csr_matrix(history)[rows]
        if h.shape[1] != size:
            h = h[:, :size]
        h = sp.csr_matrix(h, dtype=np.float32, copy=True)
        h.data = np.abs(h.data)
        norm = np.asarray(h.sum(axis=1)).ravel()
        norm[norm == 0] = 1.0
        # slicing a big `similar` copies it: top_n calls this once per batch
        similar = model.similar if model.similar.shape == (size, size) else model.similar[:size, :size]
        part = (sp.diags((float(blend["neighbour"]) / norm).astype(np.float32)) @ h @ similar).tocoo()
        out[part.row, part.col] += part.data  # one entry per (row, col): a sparse product sums duplicates
    return out


def top_n(
    model: Model,
    user_rows: np.ndarray,
    n: int,
    exclude: sp.spmatrix | None,
    history: sp.spmatrix | None = None,
    batch_size: int = 512,
) -> np.ndarray:
    """(len(user_rows), n) int32 item indices, best first, -1 padded, for trained users.

    exclude: (n_users, n_items) (rows indexed by user_rows), items never returned: usually the
    interactions. history: the neighbour part's history, default `exclude`.
    """
    rows = np.asarray(user_rows, dtype=np.int64)
    history = exclude if history is None else history
    exclude = None if exclude is None else sp.csr_matrix(exclude)
    out = np.full((rows.size, n), -1, dtype=np.int32)
    for start in range(0, rows.size, batch_size):
        chunk = rows[start : start + batch_size]
        scores = score_users(model, chunk, history)
        seen = None if exclude is None else exclude[chunk]
        if seen is not None and seen.shape[1] > scores.shape[1]:
            seen = seen[:, : scores.shape[1]]
        ranked = evaluation.top_k(scores, n, exclude=seen, overwrite=True)
        out[start : start + chunk.size, : ranked.shape[1]] = ranked
    return out


def embed_items(model: Model, item_features: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """(m, k) vectors and (m,) biases for items that arrived after training, from their features.

    item_features: (m, n_features) over the trained model's feature columns (no identity columns).
    The bias is what the item's features predict of the trained items' bias (popularity prior
    included), by ridge regression: a new item starts where its feature-mates are.
    """
    features = _normalised_features(item_features, item_features.shape[0])
    k = model.item_vectors.shape[1]
    m = item_features.shape[0]
    if model.feature_vectors is None or features is None or not features.shape[1]:
        return np.zeros((m, k), np.float32), np.zeros(m, np.float32)
    vectors = np.asarray(features @ model.feature_vectors, dtype=np.float32)
    bias = (
        np.zeros(m, np.float32)
        if model.feature_bias is None
        else np.asarray(features @ model.feature_bias, dtype=np.float32).ravel()
    )
    return vectors, bias


# --- bought together ----------------------------------------------------------------------------


def co_purchase(baskets: sp.spmatrix, k: int = 20, min_support: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Items bought together, by lift.

    baskets: (n_baskets, n_items) binary (any non-zero counts once).
    Returns (n_items, k) int32 neighbour indices, best first, -1 padded, and (n_items, k) float32 lifts
    (0 padded), where lift(i, j) = n_baskets * together(i, j) / (baskets(i) * baskets(j)), for pairs
    seen together in at least `min_support` baskets. Ties: more baskets together first, then index.
    """
    b = sp.csr_matrix(baskets, dtype=np.float32)
    b.eliminate_zeros()
    b.data[:] = 1.0
    n_baskets, n_items = b.shape
    together = (b.T @ b).tocsr()
    together.setdiag(0)
    together.eliminate_zeros()
    support = np.asarray(b.sum(axis=0)).ravel()
    neighbours = np.full((n_items, k), -1, dtype=np.int32)
    lifts = np.zeros((n_items, k), dtype=np.float32)
    indptr, indices, counts = together.indptr, together.indices, together.data
    for i in range(n_items):
        lo, hi = indptr[i], indptr[i + 1]
        cols, cnt = indices[lo:hi], counts[lo:hi]
        keep = cnt >= min_support
        if not keep.any():
            continue
        cols, cnt = cols[keep], cnt[keep]
        lift = n_baskets * cnt / (support[i] * support[cols])
        order = np.lexsort((cols, -cnt, -lift))[:k]
        neighbours[i, : order.size] = cols[order]
        lifts[i, : order.size] = lift[order]
    return neighbours, lifts


# --- small helpers ------------------------------------------------------------------------------


def _as_weights(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.data = np.maximum(out.data, 0)
    out.eliminate_zeros()
    return out


def _weight_scale(matrix: sp.csr_matrix) -> float:
    """The mean non-zero weight: models see weights / scale, so their parameters are scale-free."""
    return float(matrix.data.mean()) if matrix.nnz else 1.0


def _transform(matrix: sp.csr_matrix, scale: float, how: str) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix * (1.0 / scale), dtype=np.float32)
    if how == "log":
        out.data = np.log1p(out.data)
    elif how == "binary":
        out.data[:] = 1.0
    elif how != "raw":
        raise ValueError(f"unknown transform {how!r}")
    return out


def _transform_weights(weights: np.ndarray, scale: float, how: str) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64) / scale
    if how == "log":
        return np.log1p(np.maximum(w, 0))
    if how == "binary":
        return (w > 0).astype(np.float64)
    return w


def _normalised_features(features: sp.spmatrix | None, n_rows: int) -> sp.csr_matrix | None:
    if features is None:
        return None
    f = sp.csr_matrix(features, dtype=np.float32)
    if f.shape[0] != n_rows:
        raise ValueError(f"item_features has {f.shape[0]} rows for {n_rows} items")
    sums = np.asarray(np.abs(f).sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums).astype(np.float32) @ f)


def _as_folds(interactions: sp.csr_matrix, validation) -> list[tuple[sp.csr_matrix, sp.csr_matrix]]:
    if validation is None:
        return []
    if sp.issparse(validation):
        return [(interactions, sp.csr_matrix(validation))]
    if isinstance(validation, tuple) and len(validation) == 2 and sp.issparse(validation[0]):
        return [(sp.csr_matrix(validation[0]), sp.csr_matrix(validation[1]))]
    return [
        fold if isinstance(fold, FoldScores) else (sp.csr_matrix(fold[0]), sp.csr_matrix(fold[1]))
        for fold in validation
    ]
