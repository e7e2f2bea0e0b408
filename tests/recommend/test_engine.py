"""The engine on tiny matrices whose right answer is known."""

import numpy as np
import pytest
import scipy.sparse as sp

from personalize.recommend import engine

# Two disjoint taste groups. Group A: users 0-11 and items 0-4; group B: users 12-23 and items 5-9.
# Users 0-7 bought items 0-3, users 8-11 also item 4; the same for B with items 5-8 and 9.
# Item 4 is the one group-A item users 0-7 have not bought yet; item 9 the same for users 12-19.
A_ITEMS, B_ITEMS = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]


def two_groups() -> sp.csr_matrix:
    rows, cols = [], []
    for user in range(24):
        group = A_ITEMS if user < 12 else B_ITEMS
        bought = group if user % 12 >= 8 else group[:4]
        rows += [user] * len(bought)
        cols += bought
    return sp.csr_matrix((np.full(len(rows), 8.0, np.float32), (rows, cols)), shape=(24, 10))


def group_features() -> sp.csr_matrix:
    """(10, 3): feature 0 = "group a", 1 = "group b", 2 = a price band every item shares."""
    rows = list(range(10)) * 2
    cols = [0 if i < 5 else 1 for i in range(10)] + [2] * 10
    return sp.csr_matrix((np.ones(20, np.float32), (rows, cols)), shape=(10, 3))


PERSONAL = [
    ("hybrid", {}),
    ("als", {}),
    ("ease", {}),
    ("item-knn", {}),
    ("lightfm-warp", {"epochs": 50}),
]


@pytest.mark.parametrize(("algorithm", "params"), PERSONAL)
def test_the_held_out_item_of_each_group_ranks_first(algorithm, params):
    interactions = two_groups()
    threads = 1 if algorithm.startswith("lightfm") else 2  # LightFM is only deterministic on one thread
    model = engine.fit(
        interactions, group_features(), algorithm=algorithm, params=params, num_threads=threads
    )

    top = engine.top_n(model, np.arange(24), 3, exclude=interactions)

    assert top[:8, 0].tolist() == [4] * 8
    assert top[12:20, 0].tolist() == [9] * 8
    # users who bought their whole group get the other group's items, never their own again
    assert set(top[8:12].ravel()) <= set(B_ITEMS)


def test_auto_keeps_a_personal_blend_and_says_why():
    interactions = two_groups()
    # validation: what users 0-7 and 12-19 did next (bought the held-out item of their group)
    holdout = sp.csr_matrix(
        (np.ones(16, np.float32), (list(range(8)) + list(range(12, 20)), [4] * 8 + [9] * 8)), shape=(24, 10)
    )

    model = engine.fit(interactions, group_features(), algorithm="auto", validation=holdout)

    assert model.algorithm != "popularity"
    assert model.params["selection"]["chosen_ndcg"] == [pytest.approx(1.0)]
    assert model.params["selection"]["worst_fold_ratio"] > 1
    assert engine.top_n(model, np.array([0, 12]), 1, exclude=interactions)[:, 0].tolist() == [4, 9]


def test_auto_without_validation_uses_the_hybrid_defaults():
    model = engine.fit(two_groups(), None, algorithm="auto")

    assert model.algorithm == "hybrid(als+ease+pop)"
    assert model.params["selection"]["method"].startswith("default")


def test_a_refit_with_the_returned_name_and_params_is_the_same_model():
    first = engine.fit(two_groups(), group_features(), algorithm="ease")
    again = engine.fit(two_groups(), group_features(), algorithm=first.algorithm, params=first.params)

    assert again.algorithm == first.algorithm == "ease"
    assert again.blend == first.blend
    np.testing.assert_array_equal(again.similar.toarray(), first.similar.toarray())


def test_a_session_of_group_a_items_ranks_group_a_first():
    model = engine.fit(two_groups(), group_features(), algorithm="hybrid")
    session = np.array([0, 1])

    vec = engine.user_vector(model, session, np.array([1.0, 4.0]))  # a view and an add-to-cart
    scores = engine.score(model, vec, session, np.array([1.0, 4.0]))
    ranked = [i for i in np.argsort(-scores, kind="stable") if i not in session]

    assert vec.shape == (model.item_vectors.shape[1],)
    assert set(ranked[:3]) == {2, 3, 4}


def test_the_factor_part_alone_follows_the_session():
    model = engine.fit(two_groups(), None, algorithm="als")

    vec = engine.user_vector(model, np.array([5, 6]), np.array([8.0, 8.0]))
    scores = engine.score(
        model, vec, np.array([], dtype=int), np.array([]), candidates=np.array([2, 3, 7, 8])
    )

    assert scores[2:].min() > scores[:2].max()


def test_folding_in_a_trained_users_history_gives_back_its_vector():
    interactions = two_groups()
    model = engine.fit(interactions, None, algorithm="als", params={"iterations": 30})
    row = interactions[3]

    vec = engine.user_vector(model, row.indices, row.data)

    # the fold-in is the iALS user step, so it matches the trained vector up to the last item update
    cosine = vec @ model.user_vectors[3] / np.linalg.norm(vec) / np.linalg.norm(model.user_vectors[3])
    assert cosine > 0.99


def test_score_is_the_documented_blend():
    model = engine.fit(two_groups(), group_features(), algorithm="hybrid")
    vec = np.arange(model.item_vectors.shape[1], dtype=np.float32) / 10
    items, weights = np.array([0, 6]), np.array([1.0, 3.0])

    got = engine.score(model, vec, items, weights, candidates=np.array([2, 9]))

    neighbour = (0.25 * model.similar[0] + 0.75 * model.similar[6]).toarray()[0]
    for n, j in enumerate([2, 9]):
        expected = (
            model.blend["factor"] * model.item_vectors[j] @ vec
            + model.item_bias[j]
            + model.blend["neighbour"] * neighbour[j]
        )
        assert got[n] == pytest.approx(expected, rel=1e-5)


def test_with_no_user_and_no_history_scores_are_the_item_bias():
    model = engine.fit(two_groups(), None, algorithm="hybrid")

    scores = engine.score(model, None, np.array([], dtype=int), np.array([]))

    np.testing.assert_array_equal(scores, model.item_bias)


@pytest.mark.parametrize("algorithm", ["als", "lightfm-warp"])
def test_a_new_item_lands_near_its_feature_mates(algorithm):
    model = engine.fit(
        two_groups(), group_features(), algorithm=algorithm, params={"epochs": 50}, num_threads=1
    )
    new_a = sp.csr_matrix(np.array([[1.0, 0.0, 1.0]], np.float32))  # a group-A item with the shared band

    vectors, biases = engine.embed_items(model, new_a)

    unit = model.item_vectors / np.linalg.norm(model.item_vectors, axis=1, keepdims=True)
    cosine = unit @ (vectors[0] / np.linalg.norm(vectors[0]))
    assert vectors.shape == (1, model.item_vectors.shape[1]) and biases.shape == (1,)
    assert cosine[A_ITEMS].min() > cosine[B_ITEMS].max()


def test_a_new_item_can_be_recommended_to_a_matching_session():
    model = engine.fit(two_groups(), group_features(), algorithm="hybrid")
    vectors, biases = engine.embed_items(model, sp.csr_matrix(np.array([[1.0, 0.0, 1.0]], np.float32)))
    # serving appends new items to the model's item axis
    model.item_vectors = np.vstack([model.item_vectors, vectors])
    model.item_bias = np.concatenate([model.item_bias, biases])

    session = np.array([0, 1, 2])
    scores = engine.score(model, engine.user_vector(model, session, np.ones(3)), session, np.ones(3))

    assert scores.shape == (11,)
    assert scores[10] > scores[B_ITEMS].max()


@pytest.mark.parametrize("algorithm", ["als", "lightfm-warp"])
def test_the_factor_fit_records_its_speed_in_interactions_per_second_per_epoch(algorithm):
    model = engine.fit(two_groups(), group_features(), algorithm=algorithm, num_threads=1)

    assert model.params["factor_interactions_per_second_per_epoch"] > 0


def test_fitting_twice_with_the_same_seed_gives_the_same_model():
    first = engine.fit(two_groups(), group_features(), algorithm="hybrid", params={"seed": 7})
    second = engine.fit(two_groups(), group_features(), algorithm="hybrid", params={"seed": 7})

    np.testing.assert_array_equal(first.item_vectors, second.item_vectors)
    np.testing.assert_array_equal(first.user_vectors, second.user_vectors)
    np.testing.assert_array_equal(first.item_bias, second.item_bias)
    np.testing.assert_array_equal(first.similar.toarray(), second.similar.toarray())
    np.testing.assert_array_equal(first.feature_vectors, second.feature_vectors)


def test_top_n_never_returns_excluded_items_and_pads_short_lists():
    interactions = two_groups()
    model = engine.fit(interactions, None, algorithm="ease")

    top = engine.top_n(model, np.array([8]), 10, exclude=interactions)

    assert top.dtype == np.int32 and top.shape == (1, 10)
    assert not set(top[0]) & set(A_ITEMS)
    assert top[0, 5:].tolist() == [-1] * 5


def test_co_purchase_ranks_by_lift_above_a_minimum_support():
    # 10 baskets over items 0-3. Item 0 is in 4 baskets, item 1 in 3, item 2 in 6, item 3 in 2.
    baskets = [[0, 1], [0, 1], [0, 1, 2], [0, 2, 3], [2], [2], [2], [2, 3], [], []]
    rows = [n for n, basket in enumerate(baskets) for _ in basket]
    cols = [i for basket in baskets for i in basket]
    b = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(10, 4))

    neighbours, lift = engine.co_purchase(b, k=3, min_support=2)

    # together(0,1)=3: 10*3/(4*3)=2.5; together(0,2)=2: 10*2/(4*6)=0.8333; together(0,3)=1 < min_support
    assert neighbours[0].tolist() == [1, 2, -1]
    np.testing.assert_allclose(lift[0], [2.5, 10 * 2 / 24, 0], rtol=1e-6)
    # together(2,3)=2: 10*2/(6*2)=1.6667 beats together(2,0)=2: 0.8333
    assert neighbours[2].tolist() == [3, 0, -1]
    np.testing.assert_allclose(lift[2], [10 * 2 / 12, 10 * 2 / 24, 0], rtol=1e-6)
    assert neighbours[1].tolist() == [0, -1, -1]


def test_interaction_matrix_decays_and_combines_repeats():
    day = 86400.0
    users, items = np.array([0, 0, 0]), np.array([1, 1, 2])
    weights, ts = np.array([8.0, 8.0, 1.0]), np.array([0.0, 30 * day, 30 * day])

    summed = engine.interaction_matrix(
        users, items, weights, ts, shape=(1, 3), now=30 * day, half_life_days=30
    )
    strongest = engine.interaction_matrix(
        users, items, weights, ts, shape=(1, 3), now=30 * day, half_life_days=30, combine="max"
    )

    np.testing.assert_allclose(summed.toarray(), [[0, 8 + 4, 1]])
    np.testing.assert_allclose(strongest.toarray(), [[0, 8, 1]])


def test_temporal_folds_train_on_the_past_and_hold_out_the_next_window():
    day = 86400.0
    users = np.array([0, 0, 0, 1, 1])
    items = np.array([0, 1, 2, 0, 3])
    ts = np.array([1, 5, 12, 2, 9]) * day

    folds = engine.temporal_folds(
        users, items, np.ones(5), ts, shape=(2, 4), half_life_days=None, n_folds=2, fold_days=4
    )

    (train1, hold1), (train2, hold2) = folds
    assert sorted(zip(*hold1.nonzero(), strict=True)) == [(0, 2), (1, 3)]  # the last 4 days
    assert sorted(zip(*train1.nonzero(), strict=True)) == [(0, 0), (0, 1), (1, 0)]
    assert sorted(zip(*hold2.nonzero(), strict=True)) == [(0, 1)]  # days 4-8
    assert sorted(zip(*train2.nonzero(), strict=True)) == [(0, 0), (1, 0)]


def test_fold_windows_count_back_from_the_newest_event_and_stop_where_no_history_is_left():
    day = 86400.0
    ts = np.array([1, 5, 12, 2, 9]) * day

    by_days = engine.fold_windows(ts, n_folds=5, fold_days=4)
    by_share = engine.fold_windows(ts, n_folds=5, fold_fraction=0.2)

    end = 12 * day + 1
    assert by_days == [(end - 4 * day, end), (end - 8 * day, end - 4 * day)]  # nothing before day 1
    assert by_share[0] == (np.quantile(ts, 0.8), end)
    assert all(later[0] == earlier[1] for later, earlier in zip(by_share, by_share[1:], strict=False))
    folds = engine.temporal_folds(
        np.array([0, 0, 0, 1, 1]),
        np.array([0, 1, 2, 0, 3]),
        np.ones(5),
        ts,
        shape=(2, 4),
        half_life_days=None,
        windows=by_days[1:],
    )
    ((train, hold),) = folds
    assert sorted(zip(*hold.nonzero(), strict=True)) == [(0, 1)]  # days 4-8
    assert sorted(zip(*train.nonzero(), strict=True)) == [(0, 0), (1, 0)]


def test_the_selection_pool_ranks_like_the_whole_catalog_and_never_offers_a_seen_item():
    rng = np.random.default_rng(3)
    m, n_items, size = 40, 1000, 50  # more than 3 x size items: the pooled path
    parts = [rng.normal(size=(m, n_items)).astype(np.float32) for _ in range(3)]
    seen = sp.csr_matrix(rng.random((m, n_items)) < 0.05)

    cols, pooled, invalid = engine._selection_pool(parts, seen, size=size)

    assert cols.shape[1] == 3 * size and cols.shape[1] < n_items
    valid_cols = [set(cols[u][~invalid[u]].tolist()) for u in range(m)]
    for u in range(m):
        assert not valid_cols[u] & set(seen[u].indices.tolist())  # seen items are never in the pool
        assert len(valid_cols[u]) == int((~invalid[u]).sum())  # nor twice
    for part, scores in zip(parts, pooled, strict=True):
        # each part alone: the pooled top 10 is the exact top 10 over every unseen item
        exact = engine.evaluation.top_k(part, 10, exclude=seen)
        best = engine.evaluation.top_k(np.where(invalid, -np.inf, scores).astype(np.float32), 10)
        np.testing.assert_array_equal(np.take_along_axis(cols, best, axis=1), exact)


def test_a_fold_scored_with_a_fitted_model_scores_like_fitting_it_again():
    interactions = two_groups()
    holdout = sp.csr_matrix(
        (np.ones(16, np.float32), (list(range(8)) + list(range(12, 20)), [4] * 8 + [9] * 8)), shape=(24, 10)
    )
    model = engine.fit(interactions, None, algorithm="auto", validation=holdout, cold_start=False)

    reused = engine.score_fold(model, interactions, holdout)
    (fitted,) = engine.score_folds([(interactions, holdout)], None, params=model.params)

    assert reused.users == fitted.users == 16
    assert reused.combos == fitted.combos == engine.blend_grid()
    assert reused.popularity == pytest.approx(fitted.popularity)
    np.testing.assert_allclose(reused.blends, fitted.blends, atol=1e-6)
    # and `fit` accepts scored folds as its validation: the same choice as from the matrices
    again = engine.fit(interactions, None, algorithm="auto", validation=[reused], cold_start=False)
    assert again.blend == model.blend


def test_select_refuses_folds_scored_on_different_grids():
    interactions = two_groups()
    holdout = sp.csr_matrix((np.ones(2, np.float32), ([0, 12], [4, 9])), shape=(24, 10))
    small = {"w_factor": (1.0,), "w_neighbour": (0.0, 1.0), "w_popularity": (0.0,)}
    (one,) = engine.score_folds([(interactions, holdout)], None, grid=small)
    (other,) = engine.score_folds([(interactions, holdout)], None)

    with pytest.raises(ValueError, match="different grids"):
        engine.select([one, other], None, params=dict(engine.DEFAULTS))
