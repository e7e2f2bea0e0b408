"""The recommender core: the only module that imports LightFM. numpy/scipy in, numpy out, no Django.

Interim baseline (LightFM WARP with item features); helper-5's tuned engine replaces this file.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass
class Model:
    algorithm: str = "lightfm"
    params: dict = field(default_factory=dict)
    item_vectors: np.ndarray = None
    item_bias: np.ndarray = None
    user_vectors: np.ndarray = None
    feature_vectors: np.ndarray = None
    feature_bias: np.ndarray = None
    similar: object = None
    blend: dict = field(default_factory=dict)


def fit(interactions, item_features, algorithm="auto", params=None, num_threads=1):
    from lightfm import LightFM

    n_items = interactions.shape[1]
    feats = sp.hstack([sp.identity(n_items, format="csr", dtype=np.float32), item_features]).tocsr()
    m = LightFM(no_components=16, loss="warp", random_state=7)
    m.fit(interactions.tocoo(), item_features=feats, epochs=40, num_threads=num_threads)
    ib, iv = m.get_item_representations(feats)
    norm = iv / np.maximum(np.linalg.norm(iv, axis=1, keepdims=True), 1e-9)
    sims = norm @ norm.T
    np.fill_diagonal(sims, -np.inf)
    k = min(20, n_items - 1)
    top = np.argsort(-sims, axis=1)[:, :k]
    rows = np.repeat(np.arange(n_items), k)
    similar = sp.csr_matrix(
        (np.take_along_axis(sims, top, 1).ravel(), (rows, top.ravel())), shape=(n_items, n_items)
    )
    return Model(
        "lightfm",
        dict(params or {}),
        iv.astype(np.float32),
        ib.astype(np.float32),
        m.user_embeddings.astype(np.float32),
        m.item_embeddings[n_items:].astype(np.float32),
        m.item_biases[n_items:].astype(np.float32),
        similar,
    )


def user_vector(model, items, weights):
    items = np.asarray(items)
    weights = np.asarray(weights, dtype=np.float32)
    if not items.size:
        return np.zeros(model.item_vectors.shape[1], np.float32)
    return (model.item_vectors[items] * weights[:, None]).sum(0) / weights.sum()


def score(model, user_vec, history_items, history_weights, candidates):
    candidates = np.asarray(candidates)
    return model.item_vectors[candidates] @ user_vec + model.item_bias[candidates]


def embed_items(model, item_features):
    return item_features @ model.feature_vectors, item_features @ model.feature_bias


def co_purchase(baskets, k=20):
    b = sp.csr_matrix(baskets)
    b.data[:] = 1
    co = (b.T @ b).toarray().astype(np.float32)
    np.fill_diagonal(co, 0)
    n = max(b.shape[0], 1)
    pop = np.asarray(b.sum(0)).ravel() / n
    lift = (co / n) / np.maximum(np.outer(pop, pop), 1e-9)
    lift[co == 0] = 0
    order = np.argsort(-lift, axis=1)[:, :k]
    vals = np.take_along_axis(lift, order, 1)
    order = np.where(vals > 0, order, -1).astype(np.int32)
    return order, vals.astype(np.float32)


def top_n(model, users, k, exclude=None):
    s = model.user_vectors[users] @ model.item_vectors.T + model.item_bias
    if exclude is not None:
        ex = sp.csr_matrix(exclude)[users]
        r, c = ex.nonzero()
        s[r, c] = -np.inf
    k = min(k, s.shape[1])
    return np.argsort(-s, axis=1)[:, :k].astype(np.int32)
