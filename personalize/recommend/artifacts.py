"""What a trained model version leaves behind for serving: numpy arrays in one .npz file.

Django-free. No pickles: strings are stored as unicode arrays, sparse matrices as their parts.
"""

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


def save(path: Path, artifacts: Artifacts) -> None:
    arrays: dict[str, np.ndarray] = {}
    for f in fields(Artifacts):
        if f.name != "model":
            arrays[f.name] = np.asarray(getattr(artifacts, f.name))
    model = artifacts.model
    for f in fields(Model):
        value = getattr(model, f.name)
        if value is None:
            continue
        if sp.issparse(value):
            csr = value.tocsr()
            arrays[f"model.{f.name}.data"] = csr.data
            arrays[f"model.{f.name}.indices"] = csr.indices
            arrays[f"model.{f.name}.indptr"] = csr.indptr
            arrays[f"model.{f.name}.shape"] = np.array(csr.shape)
        elif isinstance(value, np.ndarray):
            arrays[f"model.{f.name}"] = value
        else:  # str / dict: kept as JSON text
            import json

            arrays[f"model.{f.name}.json"] = np.array(json.dumps(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)  # readers never see a half-written file


def load(path: Path) -> Artifacts:
    import json

    with np.load(path, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    model_kwargs = {}
    for f in fields(Model):
        if f"model.{f.name}" in data:
            model_kwargs[f.name] = data[f"model.{f.name}"]
        elif f"model.{f.name}.indptr" in data:
            model_kwargs[f.name] = sp.csr_matrix(
                (data[f"model.{f.name}.data"], data[f"model.{f.name}.indices"], data[f"model.{f.name}.indptr"]),
                shape=tuple(data[f"model.{f.name}.shape"]),
            )
        elif f"model.{f.name}.json" in data:
            model_kwargs[f.name] = json.loads(str(data[f"model.{f.name}.json"]))
        else:
            model_kwargs[f.name] = None
    return Artifacts(model=Model(**model_kwargs), **{f.name: data[f.name] for f in fields(Artifacts) if f.name != "model"})
