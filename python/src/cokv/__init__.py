"""cokv: read cokv per-head KV-cache budget tables and apply them in other engines.

The reader needs numpy only. ``cokv.press.CokvPress`` (kvpress and torch) is imported on first
use, so ``import cokv`` works without them.
"""
from .select import keep_mask, kept_counts
from .table import BudgetLevel, BudgetTable, TableError, check_twin, load_budgets_npy, load_table, load_twin

__all__ = [
    "BudgetLevel",
    "BudgetTable",
    "TableError",
    "check_twin",
    "keep_mask",
    "kept_counts",
    "load_budgets_npy",
    "load_table",
    "load_twin",
]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "CokvPress":  # kvpress and torch load here, not at import cokv
        from .press import CokvPress

        return CokvPress
    raise AttributeError(f"module 'cokv' has no attribute {name!r}")
