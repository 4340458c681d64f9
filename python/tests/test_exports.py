"""The files `cokv-profile export` writes for other engines, read back with numpy and json the way
those engines load them (np.load, np.loadtxt, json.loads(f.readline())). Needs the cokv-profile
binary: ctest passes it in COKV_PROFILE."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

import cokv
from _paths import COKV_PROFILE, REAL_TABLE

T = 367  # the longest prompt the real table was profiled on


@unittest.skipUnless(os.access(COKV_PROFILE, os.X_OK), "COKV_PROFILE is not an executable (ctest sets it)")
class Exports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        subprocess.run([COKV_PROFILE, "export", REAL_TABLE, "--out", cls.dir, "--reference-length", str(T)],
                       check=True, capture_output=True)
        cls.t = cokv.load_table(REAL_TABLE)
        with open(os.path.join(cls.dir, "exports.json")) as f:
            cls.manifest = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def entry(self, name):
        return next(e for e in self.manifest["files"] if e["file"] == name)

    def test_manifest_lists_existing_files(self):
        self.assertEqual(self.manifest["format"], "cokv.exports.v1")
        self.assertEqual(self.manifest["reference_length"], T)
        for e in self.manifest["files"]:
            self.assertTrue(os.path.exists(os.path.join(self.dir, e["file"])), e["file"])

    def test_headkv_budget_files(self):
        for mean in (32, 64):
            e = self.entry(f"headkv_budgets.{mean}.json")
            with open(os.path.join(self.dir, e["file"])) as f:
                heads = json.loads(f.readline())  # HeadKV reads the first line only
            self.assertEqual(list(heads)[:4], ["0-0", "0-1", "0-2", "0-3"])
            values = np.array([np.mean(v) for v in heads.values()]).reshape(30, 9)
            kv = values[:, ::3] + self.t.window + e["min_num"]  # query heads 0, 3, 6 lead the 3 groups
            np.testing.assert_array_equal(kv, self.t.budgets(mean))
            np.testing.assert_array_equal(values[:, 0::3], values[:, 2::3])  # a group shares its value

    def test_lukv_curve(self):
        curve = np.load(os.path.join(self.dir, "lukv_curve.npy"), allow_pickle=False)
        self.assertEqual((curve.dtype, curve.shape), (np.float32, (99, 30, 3)))
        for tab in self.entry("lukv_curve.npy")["tables"]:
            kept = np.rint((1 - curve[tab["slice"] - 1].astype(np.float64)) * T)
            np.testing.assert_array_equal(kept, np.minimum(self.t.budgets(tab["mean_budget"]), T))

    def test_duo_and_kv_compress(self):
        for mean in (32, 64):
            d = os.path.join(self.dir, f"duo_attention.{mean}")
            v = np.loadtxt(os.path.join(d, "full_attention_heads.tsv"), dtype=float, delimiter="\t")
            self.assertEqual(v.shape, (30, 3))
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            self.assertEqual((cfg["sink_size"], cfg["recent_size"]), (0, 8))
            n_full = round(90 * (1 - cfg["head_compression_ratio"]))
            b = np.minimum(self.t.budgets(mean), T).ravel()
            full = np.argsort(-v.ravel(), kind="stable")[:n_full]
            self.assertTrue(n_full == 0 or b[full].min() > np.delete(b, full).max())
            z = np.load(os.path.join(self.dir, f"kv_compress_bias.{mean}.npz"))
            self.assertEqual((z["bias"].shape, z["bias"].dtype), ((30, 3, 1), np.float32))
            np.testing.assert_array_equal(z["pos_bins"], np.array([0], dtype=np.int32))
            order = np.argsort(z["bias"].ravel(), kind="stable")
            self.assertTrue((np.diff(self.t.budgets(mean).ravel()[order]) >= 0).all())  # bias follows budgets


if __name__ == "__main__":
    unittest.main()
