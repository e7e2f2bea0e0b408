"""Offline metrics on examples small enough to check by hand."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from personalize.recommend import evaluation


def matrix(rows: dict[int, list[int]], shape=(4, 5)) -> sp.csr_matrix:
    r = [u for u, items in rows.items() for _ in items]
    c = [i for items in rows.values() for i in items]
    return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=shape)


# user 0: 2 train items; its test item 1 was seen in train, so its ground truth is {2, 3}
# user 1: 2 train items, ground truth {1}
# user 2: 1 train item: not evaluated;  user 3: no test items: not evaluated
TRAIN = matrix({0: [0, 1], 1: [0, 2], 2: [3], 3: [1, 2]})
TEST = matrix({0: [2, 3, 1], 1: [1], 2: [4]})


def test_it_keeps_new_to_user_items_of_users_with_two_train_items():
    assert evaluation.eligible_users(TRAIN, TEST).tolist() == [0, 1]
    truth = evaluation.ground_truth(TRAIN, TEST)
    assert truth[0].indices.tolist() == [2, 3]
    assert truth[1].indices.tolist() == [1]


def test_it_computes_the_metrics_of_ranked_lists_exactly():
    lists = {0: [2, 4, 3], 1: [3, 4, 1]}

    def recommend(rows, k):
        return np.array([lists[r] for r in rows])

    got = evaluation.evaluate(recommend, TRAIN, TEST, k=3)

    ndcg_0 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))  # hits at ranks 1 and 3 of 2 relevant
    ndcg_1 = (1 / math.log2(4)) / 1  # hit at rank 3 of 1 relevant
    assert got["users"] == 2
    assert got["precision"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert got["recall"] == pytest.approx(1.0)
    assert got["ndcg"] == pytest.approx((ndcg_0 + ndcg_1) / 2)
    assert got["ndcg"] == pytest.approx(0.709860, abs=1e-6)
    assert got["hit_rate"] == pytest.approx(1.0)
    assert got["coverage"] == pytest.approx(4 / 5)  # items 1, 2, 3, 4 were shown


def test_it_removes_train_items_before_taking_the_top_of_scores():
    # user 0 scores its own train items highest; they must not take slots
    scores = np.array([[9, 8, 1, 0, 0.5], [9, 0, 8, 0.5, 0.2]], dtype=np.float32)

    got = evaluation.evaluate(lambda rows, k: scores[rows], TRAIN, TEST, k=2)

    # user 0 gets [2, 4]: one hit of two relevant; user 1 gets [3, 4]: no hit
    assert got["precision"] == pytest.approx((1 / 2 + 0) / 2)
    assert got["recall"] == pytest.approx((1 / 2 + 0) / 2)
    assert got["ndcg"] == pytest.approx((1 / (1 + 1 / math.log2(3)) + 0) / 2)
    assert got["hit_rate"] == pytest.approx(0.5)
    assert got["coverage"] == pytest.approx(3 / 5)


def test_it_counts_padding_as_a_miss():
    got = evaluation.evaluate(lambda rows, k: np.array([[2, -1, -1], [-1, -1, -1]]), TRAIN, TEST, k=3)

    assert got["precision"] == pytest.approx(1 / 6)
    assert got["hit_rate"] == pytest.approx(0.5)
    assert got["coverage"] == pytest.approx(1 / 5)


def test_most_popular_ranks_by_distinct_users():
    train = matrix({0: [0, 1], 1: [1], 2: [1, 2], 3: [2]})
    scores = evaluation.most_popular(train)(np.array([0]), 3)
    assert np.argsort(-scores[0], kind="stable")[:3].tolist() == [1, 2, 0]


def test_item_knn_scores_by_cosine_of_the_history():
    train = matrix({0: [0, 1], 1: [0, 1], 2: [2, 3], 3: [0]})
    sim = evaluation.cosine_neighbours(train, k=10)
    assert sim[0, 1] == pytest.approx(2 / math.sqrt(3 * 2))
    assert sim[0, 2] == 0 and sim[0, 0] == 0
    scores = evaluation.item_knn(train)(np.array([3]), 2)
    assert scores[0].argmax() == 1


def test_als_baseline_learns_the_block_structure():
    blocks = {u: [0, 1, 2] if u < 6 else [3, 4, 5] for u in range(12)}
    blocks[0] = [0, 1]
    train = matrix(blocks, shape=(12, 6))
    scores = evaluation.als(train, factors=4, iterations=10)(np.array([0]), 1)
    assert int(np.argmax(np.where(train[0].toarray()[0] > 0, -np.inf, scores[0]))) == 2


def test_top_k_on_wide_rows_matches_a_full_sort():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((40, 5000)).astype(np.float32)
    scores[0] = 0.0  # all tied: lowest indices first
    scores[1, :-3] = -np.inf  # three finite scores: the rest is padding
    scores[2] = np.round(scores[2], 1)  # many ties
    exclude = sp.random(40, 5000, density=0.02, format="csr", random_state=3)

    got = evaluation.top_k(scores, 100, exclude=exclude)

    masked = scores.copy()
    masked[exclude.nonzero()] = -np.inf
    expected = np.argsort(-masked, axis=1, kind="stable")[:, :100]
    expected[np.take_along_axis(masked, expected, axis=1) == -np.inf] = -1
    np.testing.assert_array_equal(got, expected)
