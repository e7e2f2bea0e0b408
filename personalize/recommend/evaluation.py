"""Offline ranking metrics and reference baselines on a temporal hold-out (numpy/scipy only, no Django).

Protocol (the one in ../shared/datasets/*/SOURCE.md): `train` and `test` are (n_users, n_items) matrices
over the same axes, cut at one global date. The ground truth of a user is the set of test items the user
had not interacted with in train ("new-to-user"); a user is evaluated when they have at least 2 distinct
train items and at least 1 ground-truth item. Each user's top-k is taken over the whole item axis with
the user's train items removed. Coverage is the share of the item axis that appears in any top-k.
"""

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

RecommendFn = Callable[[np.ndarray, int], np.ndarray]


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


def ground_truth(train: sp.spmatrix, test: sp.spmatrix) -> sp.csr_matrix:
    """(n_users, n_items) binary: test items the user had not seen in train."""
    seen = _binary(train)
    truth = _binary(test) - _binary(test).multiply(seen)
    truth = sp.csr_matrix(truth)
    truth.eliminate_zeros()
    return truth


def eligible_users(train: sp.spmatrix, test: sp.spmatrix, min_train_items: int = 2) -> np.ndarray:
    """(m,) int: rows with >= min_train_items distinct train items and >= 1 new-to-user test item."""
    seen = _binary(train).getnnz(axis=1)
    truth = ground_truth(train, test).getnnz(axis=1)
    return np.flatnonzero((seen >= min_train_items) & (truth > 0))


def top_k(
    scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, *, overwrite: bool = False
) -> np.ndarray:
    """(m, n_items) scores -> (m, k) item indices, best first; `exclude` rows (m, n_items) are never chosen.

    Excluded or -inf slots that end up in a short list are returned as -1. With `overwrite` the
    scores array (float32, owned by the caller) is modified instead of copied.
    """
    if overwrite and isinstance(scores, np.ndarray) and scores.dtype == np.float32 and scores.flags.writeable:
        pass
    else:
        scores = np.array(scores, dtype=np.float32, copy=True)
    if exclude is not None:
        rows, cols = exclude.nonzero()
        scores[rows, cols] = -np.inf
    k = min(k, scores.shape[1])
    if k >= 1 and scores.shape[1] >= max(2000, 20 * k):
        return _top_k_by_threshold(scores, k)
    return _top_k_by_partition(scores, k)


def _top_k_by_partition(scores: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    best = np.take_along_axis(part, order, axis=1)
    best[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
    return best


def _top_k_by_threshold(scores: np.ndarray, k: int, step: int = 8) -> np.ndarray:
    """The same answer as a full partition, several times faster on wide rows: a threshold from every
    `step`-th column keeps about 2k candidates per row; rows left with fewer than k use the partition."""
    m, n = scores.shape
    sample = scores[:, ::step]
    j = min(sample.shape[1] - 1, (2 * k) // step + 4)
    threshold = -np.partition(-sample, j, axis=1)[:, j]
    candidates = scores >= threshold[:, None]
    good = (np.count_nonzero(candidates, axis=1) >= k) & np.isfinite(threshold)
    best = np.full((m, k), -1, dtype=np.int64)
    if not good.all():
        best[~good] = _top_k_by_partition(scores[~good], k)
        good_rows = np.flatnonzero(good)
        candidates = candidates[good_rows]
    else:
        good_rows = np.arange(m)
    # flat positions split by hand: 2-D nonzero costs twice as much on wide rows
    r, c = np.divmod(np.flatnonzero(candidates), n)
    v = scores[good_rows[r], c]
    order = np.lexsort((c, -v, r))
    r, c = r[order], c[order]
    rank = np.arange(r.size) - np.searchsorted(r, np.arange(good_rows.size))[r]
    keep = rank < k
    best[good_rows[r[keep]], rank[keep]] = c[keep]
    return best


def ranking_metrics(recommended: np.ndarray, truth: sp.csr_matrix, n_items: int) -> dict:
    """Metrics of ranked lists against a ground truth.

    recommended: (m, k) int item indices, best first, -1 for an empty slot.
    truth: (m, n_items) binary, the ground truth of the same m users (each with >= 1 item).
    """
    m, k = recommended.shape
    if m == 0:
        return {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "hit_rate": 0.0, "coverage": 0.0, "users": 0}
    truth = sp.csr_matrix(truth)
    safe = np.where(recommended < 0, 0, recommended)
    hits = np.asarray(truth[np.repeat(np.arange(m), k), safe.ravel()]).reshape(m, k) > 0
    hits &= recommended >= 0
    n_truth = truth.getnnz(axis=1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(n_truth, k) - 1]
    n_hits = hits.sum(axis=1)
    shown = np.unique(recommended[recommended >= 0])
    return {
        "precision": float(np.mean(n_hits / k)),
        "recall": float(np.mean(n_hits / n_truth)),
        "ndcg": float(np.mean(dcg / ideal)),
        "hit_rate": float(np.mean(n_hits > 0)),
        "coverage": float(len(shown) / n_items),
        "users": int(m),
    }


def evaluate(
    recommend_fn: RecommendFn,
    train: sp.spmatrix,
    test: sp.spmatrix,
    k: int = 10,
    users: np.ndarray | None = None,
    batch_size: int = 2048,
) -> dict:
    """P@k, R@k, NDCG@k, HR@k and coverage@k of `recommend_fn` under the protocol above.

    recommend_fn(user_rows: (b,) int, k: int) returns either
      - float scores, shape (b, n_items): train-seen items are removed here, then the top k taken; or
      - int item indices, shape (b, >= k), best first, -1 padded: ranked lists used as given (first k).
    users: (m,) rows to evaluate; default `eligible_users(train, test)`.
    Returns {"precision", "recall", "ndcg", "hit_rate", "coverage", "users"}.
    """
    train = sp.csr_matrix(train)
    truth = ground_truth(train, test)
    if users is None:
        users = eligible_users(train, test)
    users = np.asarray(users, dtype=np.int64)
    n_items = train.shape[1]
    lists = []
    for start in range(0, len(users), batch_size):
        rows = users[start : start + batch_size]
        out = np.asarray(recommend_fn(rows, k))
        if np.issubdtype(out.dtype, np.integer):
            ranked = out[:, :k]
            if ranked.shape[1] < k:
                ranked = np.pad(ranked, ((0, 0), (0, k - ranked.shape[1])), constant_values=-1)
        else:
            ranked = top_k(out, k, exclude=train[rows])
        lists.append(ranked)
    recommended = np.vstack(lists) if lists else np.zeros((0, k), dtype=np.int64)
    return ranking_metrics(recommended, truth[users], n_items)


# --- baselines, fitted on the train matrix alone ---------------------------------------------------------


def most_popular(train: sp.spmatrix) -> RecommendFn:
    """Everyone gets the items with the most distinct train users."""
    popularity = np.asarray(_binary(train).sum(axis=0)).ravel().astype(np.float32)

    def recommend(rows: np.ndarray, k: int = 10) -> np.ndarray:
        return np.broadcast_to(popularity, (len(rows), len(popularity)))

    return recommend


def cosine_neighbours(train: sp.spmatrix, k: int = 100) -> sp.csr_matrix:
    """(n_items, n_items) cosine similarity of binary item columns, the k largest per row, no diagonal."""
    x = _binary(train).tocsc()
    norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    x = x @ sp.diags(1.0 / norms).astype(np.float32)
    sim = (x.T @ x).tocsr()
    sim.setdiag(0)
    sim.eliminate_zeros()
    return keep_top_per_row(sim, k)


def keep_top_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The k largest entries of each row of a csr matrix (ties broken by column order)."""
    matrix = sp.csr_matrix(matrix)
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    counts = np.diff(indptr)
    keep = np.ones(len(data), dtype=bool)
    for row in np.flatnonzero(counts > k):
        lo, hi = indptr[row], indptr[row + 1]
        drop = np.argsort(-data[lo:hi], kind="stable")[k:]
        keep[lo + drop] = False
    row_of = np.repeat(np.arange(matrix.shape[0]), counts)
    out = sp.csr_matrix((data[keep], (row_of[keep], indices[keep])), shape=matrix.shape, dtype=np.float32)
    out.sort_indices()
    return out


def item_knn(train: sp.spmatrix, k: int = 100) -> RecommendFn:
    """Item-kNN: a user's score for j is the sum of cosine(i, j) over the user's train items i."""
    train = _binary(train)
    sim = cosine_neighbours(train, k)

    def recommend(rows: np.ndarray, k: int = 10) -> np.ndarray:
        return (train[rows] @ sim).toarray()

    return recommend


def als(
    train: sp.spmatrix,
    factors: int = 64,
    regularization: float = 0.01,
    alpha: float = 1.0,
    iterations: int = 15,
    num_threads: int = 2,
    random_state: int = 42,
) -> RecommendFn:
    """implicit's iALS with its defaults (factors 64 here) on the binary train matrix."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    train = _binary(train)
    with threadpool_limits(1, "blas"):  # implicit checks (and warns) at construction
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            num_threads=num_threads,
            random_state=random_state,
        )
        model.fit(train, show_progress=False)
    users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)

    def recommend(rows: np.ndarray, k: int = 10) -> np.ndarray:
        return users[rows] @ items.T

    return recommend
