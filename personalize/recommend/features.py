"""Item features from catalog rows: the same tokens at training time and for items that arrive later.

Django-free: takes plain dicts with title, categories, brand, tags, price.
"""

import re

import numpy as np
import scipy.sparse as sp

STOP_WORDS = frozenset("and the for with set of in on to a an by from pack size".split())
WORD = re.compile(r"[a-z0-9]+")


def price_edges(prices: list[float | None], bands: int = 5) -> list[float]:
    """Quantile edges that split the catalog's prices into `bands` equal groups."""
    known = np.array([p for p in prices if p is not None and p > 0], dtype=float)
    if known.size < bands:
        return []
    return np.unique(np.quantile(known, np.linspace(0, 1, bands + 1)[1:-1])).tolist()


def product_tokens(product: dict, edges: list[float]) -> list[str]:
    tokens = []
    path = [c for c in product.get("categories") or [] if c]
    for depth in range(1, len(path) + 1):
        tokens.append("cat:" + " > ".join(path[:depth]).lower())
    if product.get("brand"):
        tokens.append("brand:" + product["brand"].lower())
    tokens.extend("tag:" + str(tag).lower() for tag in product.get("tags") or [])
    price = product.get("price")
    if price is not None and edges:
        tokens.append(f"price:{int(np.searchsorted(edges, float(price), side='right'))}")
    words = {
        w for w in WORD.findall((product.get("title") or "").lower()) if len(w) > 2 and w not in STOP_WORDS
    }
    tokens.extend("word:" + w for w in sorted(words))
    return tokens


def feature_matrix(
    products: list[dict], edges: list[float], vocabulary: dict[str, int] | None = None
) -> tuple[sp.csr_matrix, dict[str, int]]:
    """(n_products, n_features) with each row's tokens weighted to sum to 1.

    With `vocabulary` (a trained model's), unknown tokens are dropped; without, it is built here.
    """
    build = vocabulary is None
    vocabulary = {} if build else vocabulary
    rows, cols = [], []
    for row, product in enumerate(products):
        for token in product_tokens(product, edges):
            col = vocabulary.setdefault(token, len(vocabulary)) if build else vocabulary.get(token)
            if col is not None:
                rows.append(row)
                cols.append(col)
    data = np.ones(len(rows), dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(products), len(vocabulary)), dtype=np.float32)
    matrix.sum_duplicates()
    counts = np.asarray(matrix.sum(axis=1)).ravel()
    counts[counts == 0] = 1
    return sp.diags(1 / counts).astype(np.float32) @ matrix, vocabulary
