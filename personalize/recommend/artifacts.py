"""What a trained model version leaves behind for serving: numpy arrays in one .npz file.

Django-free. No pickles: strings are stored as unicode arrays, sparse matrices as their parts,
dicts as JSON text.
"""

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from personalize.recommend.engine import Model


@dataclass
class Artifacts:
    model: Model
    item_ids: np.ndarray  # (n_items,) str: the merchant's product ids, in the model's item order
    user_ids: np.ndarray  # (n_users,) str: "v:<visitor_id>" or "c:<customer_id>", in the model's user order
    top_n: np.ndarray  # (n_users, N) int32 item indices, best first, -1 padded
    bought_together: np.ndarray  # (n_items, K) int32 item indices by lift, -1 padded
    bought_together_lift: np.ndarray  # (n_items, K) float32
    trending: np.ndarray  # (M,) int32 item indices, most trending first
    trending_score: np.ndarray  # (M,) float32
    feature_names: np.ndarray  # (n_features,) str: the item features the model knows, for new items
    user_bought: sp.csr_matrix | None = None  # (n_users, n_items) 1 where the user bought the item
    user_history: sp.csr_matrix | None = (
        None  # (n_users, n_items) decayed weights: the neighbour part's history
    )


def _put(arrays: dict, name: str, value) -> None:
    if value is None:
        return
    if sp.issparse(value):
        csr = value.tocsr()
        arrays[f"{name}.data"], arrays[f"{name}.indices"] = csr.data, csr.indices
        arrays[f"{name}.indptr"], arrays[f"{name}.shape"] = csr.indptr, np.array(csr.shape)
    elif isinstance(value, np.ndarray):
        arrays[name] = value
    else:
        arrays[f"{name}.json"] = np.array(json.dumps(value))


def _get(data: dict, name: str):
    if name in data:
        return data[name]
    if f"{name}.indptr" in data:
        parts = (data[f"{name}.data"], data[f"{name}.indices"], data[f"{name}.indptr"])
        return sp.csr_matrix(parts, shape=tuple(data[f"{name}.shape"]))
    if f"{name}.json" in data:
        return json.loads(str(data[f"{name}.json"]))
    return None


def save(path: Path, artifacts: Artifacts) -> None:
    arrays: dict[str, np.ndarray] = {}
    for f in fields(Artifacts):
        if f.name != "model":
            value = getattr(artifacts, f.name)
            _put(arrays, f.name, value if value is None or sp.issparse(value) else np.asarray(value))
    for f in fields(Model):
        _put(arrays, f"model.{f.name}", getattr(artifacts.model, f.name))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)  # readers never see a half-written file


def load(path: Path) -> Artifacts:
    with np.load(path, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    model = Model(**{f.name: _get(data, f"model.{f.name}") for f in fields(Model)})
    return Artifacts(
        model=model, **{f.name: _get(data, f.name) for f in fields(Artifacts) if f.name != "model"}
    )
