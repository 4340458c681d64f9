"""cokv.load_table / load_twin on a real table written by cokv-profile, and the errors a broken
file gives (each naming the file, the field and what was expected)."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import cokv
from _paths import REAL_TABLE


class RealTable(unittest.TestCase):
    def setUp(self):
        self.t = cokv.load_table(REAL_TABLE)

    def test_shape_and_budgets(self):
        t = self.t
        self.assertEqual((t.n_layers, t.n_heads, t.n_kv_heads), (30, 9, 3))
        self.assertEqual(t.method_name, "cokv-ssv")
        self.assertEqual(t.means, [32.0, 64.0])
        self.assertEqual(t.scores.shape, (30, 3))
        for mean in t.means:
            b = t.budgets(mean)
            self.assertEqual(b.shape, (30, 3))
            self.assertEqual(int(b.sum()), 90 * mean)  # each table spends exactly n x mean
            self.assertGreaterEqual(int(b.min()), t.window)

    def test_twin_matches_json(self):
        twin = cokv.load_twin(REAL_TABLE)
        self.assertEqual(sorted(twin), ["budgets.32", "budgets.64", "scores"])
        self.assertEqual(twin["scores"].dtype, np.float32)
        self.assertEqual(twin["budgets.64"].dtype, np.int32)
        cokv.check_twin(self.t, twin)
        twin["budgets.64"] = twin["budgets.64"].copy()
        twin["budgets.64"][3, 1] += 1
        with self.assertRaisesRegex(cokv.TableError, r"budgets\.64: expected the JSON's tables\[1\]\.budgets"):
            cokv.check_twin(self.t, twin)
        npy = REAL_TABLE[: -len(".json")] + ".budgets.32.npy"
        np.testing.assert_array_equal(cokv.load_budgets_npy(npy, 30, 3), self.t.budgets(32))
        with self.assertRaisesRegex(cokv.TableError, r"\(shape\): expected \[32, 8\]"):
            cokv.load_budgets_npy(npy, 32, 8)
        with self.assertRaisesRegex(cokv.TableError, "an integer array"):
            cokv.load_budgets_npy(REAL_TABLE[: -len(".json")] + ".scores.npy")

    def test_selection(self):
        t = self.t
        np.testing.assert_array_equal(t.budgets(index=1), t.budgets(64))
        with self.assertRaisesRegex(cokv.TableError, r"one table at mean budget 48, got 0 \(means \[32.0, 64.0\]\)"):
            t.budgets(48)
        with self.assertRaisesRegex(cokv.TableError, "got 2"):
            t.budgets()  # two tables: say which
        # Repeated means get their alpha in the twin key, as the C++ writer names the files.
        t2 = copy.deepcopy(t)
        t2.tables[1].mean_budget = 32.0
        self.assertEqual([t2.twin_key(0), t2.twin_key(1)], ["budgets.32.alpha15", "budgets.32.alpha15"])
        t2.tables[1].alpha = None
        self.assertEqual(t2.twin_key(1), "budgets.32.t1")

    def test_reader_needs_numpy_only(self):
        code = "import sys, cokv; cokv.load_table(sys.argv[1]); print('torch' in sys.modules, 'kvpress' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code, REAL_TABLE], capture_output=True, text=True,
                             env=dict(os.environ), check=True)
        self.assertEqual(out.stdout.split(), ["False", "False"])


class BrokenTables(unittest.TestCase):
    def setUp(self):
        with open(REAL_TABLE) as f:
            self.j = json.load(f)
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def expect(self, edit, pattern):
        j = copy.deepcopy(self.j)
        edit(j)
        path = os.path.join(self.dir, "bad.budget.json")
        with open(path, "w") as f:
            json.dump(j, f)
        with self.assertRaisesRegex(cokv.TableError, "^" + path.replace(".", r"\.") + ": " + pattern):
            cokv.load_table(path)

    def test_errors_name_the_field(self):
        self.expect(lambda j: j.update(format="cokv.budget.v2"), 'format: expected "cokv.budget.v1"')
        self.expect(lambda j: j["model"].pop("n_kv_heads"), "model.n_kv_heads: expected present, got missing")
        self.expect(lambda j: j["model"].update(n_heads=10), r"model.n_heads: expected a positive multiple of n_kv_heads \(3\)")
        self.expect(lambda j: j["scores"].pop(), r"scores: expected \[30\]\[3\]: 30 rows \(n_layers\), got 29 rows")
        self.expect(lambda j: j["scores"][4].append(0.0), r"scores\[4\]: expected 3 values \(n_kv_heads\), got 4 values")
        self.expect(lambda j: j["scores"][2].__setitem__(1, float("nan")), r"scores\[2\]\[1\]: expected a finite number")
        self.expect(lambda j: j["tables"][0]["budgets"][0].__setitem__(0, 12.5),
                    r"tables\[0\]\.budgets\[0\]\[0\]: expected an integer budget >= window \(8\), got 12.5")
        self.expect(lambda j: j["tables"][0]["budgets"][0].__setitem__(0, True), r"tables\[0\]\.budgets\[0\]\[0\]")
        self.expect(lambda j: j["tables"][0]["budgets"][5].__setitem__(2, 7), r"tables\[0\]\.budgets\[5\]\[2\]: expected an integer budget >= window \(8\), got 7")
        self.expect(lambda j: j["tables"][1]["budgets"][0].__setitem__(0, j["tables"][1]["budgets"][0][0] + 1),
                    r"tables\[1\]\.budgets: expected a sum of n x mean_budget = 90 x 64 = 5760, got a sum of 5761")
        self.expect(lambda j: j["tables"][1].update(mean_budget=64.01), r"tables\[1\]\.mean_budget: expected a value with n x mean_budget integral")
        self.expect(lambda j: j["tables"][0].update(alpha=0), r"tables\[0\]\.alpha: expected an integer >= 1")
        self.expect(lambda j: j.update(window=-1), "window: expected an integer >= 0")

    def test_not_json(self):
        path = os.path.join(self.dir, "x.json")
        with open(path, "w") as f:
            f.write("{")
        with self.assertRaisesRegex(cokv.TableError, "not JSON"):
            cokv.load_table(path)


if __name__ == "__main__":
    unittest.main()
