"""cokv.keep_mask, the numpy reference of what CokvPress keeps, against a brute-force reading of
cokv's rule: min(budget, S) positions per head, the window first, then the sink, then by score."""
import unittest

import numpy as np

import cokv


def brute_force(scores, budget, window, sink):
    S = len(scores)
    window_pos = set(range(S - min(window, S), S))
    sink_pos = set(range(min(sink, S))) - window_pos
    by_score = lambda p: (-scores[p], p)  # within a group: best score, then the earlier position
    ranked = sorted(window_pos, key=by_score) + sorted(sink_pos, key=by_score)
    ranked += sorted(set(range(S)) - window_pos - sink_pos, key=by_score)
    chosen = ranked[: min(budget, S)]
    mask = np.zeros(S, dtype=bool)
    mask[chosen] = True
    return mask


class KeepMask(unittest.TestCase):
    def test_against_brute_force(self):
        rng = np.random.default_rng(7)
        for trial in range(200):
            S = int(rng.integers(1, 40))
            heads = int(rng.integers(1, 5))
            window, sink = int(rng.integers(0, 6)), int(rng.integers(0, 4))
            scores = rng.integers(0, 5, size=(heads, S)).astype(float)  # many ties
            budgets = rng.integers(0, 45, size=heads)
            mask = cokv.keep_mask(scores, budgets, window, sink)
            for h in range(heads):
                with self.subTest(trial=trial, head=h):
                    np.testing.assert_array_equal(mask[h], brute_force(scores[h], budgets[h], window, sink))
                    self.assertEqual(int(mask[h].sum()), min(int(budgets[h]), S))

    def test_batch_and_counts(self):
        scores = np.arange(2 * 3 * 10, dtype=float).reshape(2, 3, 10)
        mask = cokv.keep_mask(scores, np.array([4, 10, 20]), window=2)
        self.assertEqual(mask.shape, (2, 3, 10))
        np.testing.assert_array_equal(mask.sum(-1), [[4, 10, 10], [4, 10, 10]])
        np.testing.assert_array_equal(cokv.kept_counts(np.array([[4, 10, 20]]), 10), [[4, 10, 10]])
        # Increasing scores: a budget of 4 with window 2 keeps the last 4 positions.
        np.testing.assert_array_equal(np.nonzero(mask[0, 0])[0], [6, 7, 8, 9])

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "budgets"):
            cokv.keep_mask(np.zeros((3, 5)), np.array([1, 2]), window=1)
        with self.assertRaisesRegex(ValueError, "expected >= 0"):
            cokv.kept_counts(np.array([-1]), 5)


if __name__ == "__main__":
    unittest.main()
