"""The cokv budget table file (format "cokv.budget.v1") and its .npy twins, read with numpy.

A table holds per-KV-head scores and one or more integer budget tables, every grid
[n_layers][n_kv_heads]. A budget is the number of prompt tokens a KV head keeps, window
included; each table's budgets are >= window and sum to n_layers x n_kv_heads x mean_budget.
The checks are the C++ reader's (lib/kv/budget_table.cpp): bad input raises TableError naming
the file, the field and what was expected.

The twin of "<stem>.json" is "<stem>.scores.npy" (float32), "<stem>.score_stderr.npy" when
present and "<stem>.budgets.<mean>.npy" (int32) per table, ".alpha<a>" (or ".t<k>") appended to
<mean> when means repeat.
"""
from __future__ import annotations

import glob
import json
import math
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

FORMAT = "cokv.budget.v1"


class TableError(ValueError):
    """A table file that does not follow cokv.budget.v1."""


def _fail(where, field_, expected, got=None):
    msg = f"{where}: {field_}: expected {expected}"
    if got is not None:
        msg += f", got {got}"
    raise TableError(msg)


def _show(v):
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _need(obj, key, where, path=""):
    name = f"{path}.{key}" if path else key
    if key not in obj:
        _fail(where, name, "present", "missing")
    return obj[key]


def _need_int(obj, key, where, path, min_value):
    v = _need(obj, key, where, path)
    if not _is_int(v) or v < min_value:
        _fail(where, f"{path}.{key}" if path else key, f"an integer >= {min_value}", _show(v))
    return v


def _grid(g, name, L, G, where, check):
    """[L][G] values, each checked by check(value) -> bool, as a list of rows."""
    if not isinstance(g, list):
        _fail(where, name, f"an array [{L}][{G}] (n_layers x n_kv_heads)", _show(g))
    if len(g) != L:
        _fail(where, name, f"[{L}][{G}]: {L} rows (n_layers)", f"{len(g)} rows")
    for il, row in enumerate(g):
        if not isinstance(row, list):
            _fail(where, f"{name}[{il}]", f"a row of {G} values (n_kv_heads)", _show(row))
        if len(row) != G:
            _fail(where, f"{name}[{il}]", f"{G} values (n_kv_heads)", f"{len(row)} values")
        for ih, v in enumerate(row):
            expected = check(v)
            if expected:
                _fail(where, f"{name}[{il}][{ih}]", expected, _show(v))
    return g


def _mean_text(m):
    return str(int(m)) if float(m).is_integer() else json.dumps(m)


@dataclass
class BudgetLevel:
    mean_budget: float
    alpha: Optional[int]
    budgets: np.ndarray  # int64 [n_layers, n_kv_heads]
    extra: dict = field(default_factory=dict)


@dataclass
class BudgetTable:
    path: str
    model: dict
    task: dict
    method: dict
    scores: np.ndarray  # float64 [n_layers, n_kv_heads]
    score_stderr: Optional[np.ndarray]
    window: int
    sink: int
    tables: list

    @property
    def n_layers(self) -> int:
        return self.model["n_layers"]

    @property
    def n_heads(self) -> int:
        return self.model["n_heads"]

    @property
    def n_kv_heads(self) -> int:
        return self.model["n_kv_heads"]

    @property
    def method_name(self) -> str:
        return self.method["name"]

    @property
    def means(self) -> list:
        return [lv.mean_budget for lv in self.tables]

    def level(self, mean_budget=None, *, alpha=None, index=None) -> BudgetLevel:
        """One table: by index, or by mean budget (and alpha when means repeat); the only one
        when the file has one."""
        if index is not None:
            if not 0 <= index < len(self.tables):
                _fail(self.path, "tables", f"an index below {len(self.tables)}", index)
            return self.tables[index]
        found = [
            lv
            for lv in self.tables
            if (mean_budget is None or lv.mean_budget == mean_budget) and (alpha is None or lv.alpha == alpha)
        ]
        if len(found) != 1:
            what = "one table" + (f" at mean budget {mean_budget}" if mean_budget is not None else "")
            _fail(self.path, "tables", what + (f" with alpha {alpha}" if alpha is not None else ""),
                  f"{len(found)} (means {self.means})")
        return found[0]

    def budgets(self, mean_budget=None, *, alpha=None, index=None) -> np.ndarray:
        """int64 [n_layers, n_kv_heads]: prompt tokens each KV head keeps, window included."""
        return self.level(mean_budget, alpha=alpha, index=index).budgets.copy()

    def twin_key(self, index) -> str:
        """The twin file's key of table `index`, e.g. "budgets.128" or "budgets.128.alpha10"."""
        lv = self.tables[index]
        key = "budgets." + _mean_text(lv.mean_budget)
        if sum(o.mean_budget == lv.mean_budget for o in self.tables) > 1:
            key += f".alpha{lv.alpha}" if lv.alpha is not None else f".t{index}"
        return key


def table_from_json(j, where="table") -> BudgetTable:
    """Validates a parsed cokv.budget.v1 object (see the module docstring)."""
    if not isinstance(j, dict):
        _fail(where, "(top level)", "a JSON object", _show(j))
    fmt = _need(j, "format", where)
    if fmt != FORMAT:
        _fail(where, "format", f'"{FORMAT}"', _show(fmt))
    m = _need(j, "model", where)
    if not isinstance(m, dict):
        _fail(where, "model", "a JSON object", _show(m))
    L = _need_int(m, "n_layers", where, "model", 1)
    H = _need_int(m, "n_heads", where, "model", 1)
    G = _need_int(m, "n_kv_heads", where, "model", 1)
    _need_int(m, "head_dim", where, "model", 1)
    if H % G:
        _fail(where, "model.n_heads", f"a positive multiple of n_kv_heads ({G})", H)
    method = _need(j, "method", where)
    if not isinstance(method, dict) or not isinstance(method.get("name"), str):
        _fail(where, "method", 'a JSON object with a string "name"', _show(method))
    task = j.get("task", {})
    if not isinstance(task, dict):
        _fail(where, "task", "a JSON object", _show(task))
    window = _need_int(j, "window", where, "", 0)
    sink = _need_int(j, "sink", where, "", 0) if "sink" in j else 0

    def finite(v):
        return None if _is_number(v) else "a finite number"

    scores = np.array(_grid(_need(j, "scores", where), "scores", L, G, where, finite), dtype=np.float64)
    stderr = None
    if j.get("score_stderr") is not None:
        stderr = np.array(_grid(j["score_stderr"], "score_stderr", L, G, where, finite), dtype=np.float64)

    def budget(v):
        return None if _is_int(v) and v >= window else f"an integer budget >= window ({window})"

    tables = []
    tabs = j.get("tables", [])
    if not isinstance(tabs, list):
        _fail(where, "tables", "an array of {mean_budget, budgets}", _show(tabs))
    n = L * G
    for k, tj in enumerate(tabs):
        base = f"tables[{k}]"
        if not isinstance(tj, dict):
            _fail(where, base, "an object {mean_budget, alpha?, budgets}", _show(tj))
        mean = _need(tj, "mean_budget", where, base)
        if not _is_number(mean) or mean < window:
            _fail(where, base + ".mean_budget", f"a number >= window ({window})", _show(mean))
        want = n * mean
        if abs(want - round(want)) > 1e-6 * max(1.0, want):
            _fail(where, base + ".mean_budget", f"a value with n x mean_budget integral (n = {n})", _show(mean))
        alpha = tj.get("alpha")
        if alpha is not None and (not _is_int(alpha) or alpha < 1):
            _fail(where, base + ".alpha", "an integer >= 1", _show(alpha))
        b = np.array(_grid(_need(tj, "budgets", where, base), base + ".budgets", L, G, where, budget), dtype=np.int64)
        if int(b.sum()) != round(want):
            _fail(where, base + ".budgets", f"a sum of n x mean_budget = {n} x {_mean_text(mean)} = {round(want)}",
                  f"a sum of {int(b.sum())}")
        extra = {key: v for key, v in tj.items() if key not in ("mean_budget", "alpha", "budgets")}
        tables.append(BudgetLevel(float(mean), alpha, b, extra))
    return BudgetTable(where, m, task, method, scores, stderr, window, sink, tables)


def load_table(path) -> BudgetTable:
    """Reads and validates a cokv.budget.v1 file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
    except json.JSONDecodeError as e:
        raise TableError(f"{path}: not JSON ({e})") from None
    return table_from_json(j, path)


def _stem(json_path):
    json_path = os.fspath(json_path)
    return json_path[:-5] if json_path.endswith(".json") else json_path


def load_twin(json_path) -> dict:
    """The .npy twin of a table file: {"scores": float32 [L, G], "budgets.128": int32 [L, G], ...}."""
    stem = _stem(json_path)
    out = {}
    for p in sorted(glob.glob(glob.escape(stem) + ".*.npy")):
        out[p[len(stem) + 1 : -4]] = np.load(p, allow_pickle=False)
    if "scores" not in out:
        _fail(stem + ".scores.npy", "(file)", "present beside " + os.fspath(json_path), "missing")
    return out


def load_budgets_npy(path, n_layers=None, n_kv_heads=None) -> np.ndarray:
    """One budgets twin file as int64 [n_layers, n_kv_heads], shape-checked when given."""
    a = np.load(os.fspath(path), allow_pickle=False)
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
        _fail(path, "(array)", "an integer array [n_layers, n_kv_heads]", f"{a.dtype} {list(a.shape)}")
    if (n_layers is not None and a.shape[0] != n_layers) or (n_kv_heads is not None and a.shape[1] != n_kv_heads):
        _fail(path, "(shape)", f"[{n_layers}, {n_kv_heads}]", list(a.shape))
    if (a < 0).any():
        _fail(path, "(values)", "budgets >= 0", int(a.min()))
    return a.astype(np.int64)


def check_twin(table: BudgetTable, twin: dict) -> None:
    """Raises TableError unless the twin holds the table's scores (as float32) and budgets."""
    where = _stem(table.path) + ".*.npy"
    if not np.array_equal(twin["scores"], table.scores.astype(np.float32)):
        _fail(where, "scores", "the JSON's scores as float32", "different values")
    for k, lv in enumerate(table.tables):
        key = table.twin_key(k)
        if key not in twin:
            _fail(where, key, "present", "missing")
        if twin[key].shape != lv.budgets.shape or not np.array_equal(twin[key], lv.budgets):
            _fail(where, key, f"the JSON's tables[{k}].budgets", "different values")
