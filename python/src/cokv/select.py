"""Which prompt positions a KV head keeps under a cokv budget (numpy; the press's reference).

A head with budget b keeps min(b, S) of its S prompt positions: the last `window` first, then the
first `sink`, then the best-scored positions (within each group the best score first, equal
scores to the earlier position). This is cokv's own rule: a budget counts the window, and a
budget at or above the prompt keeps all of it.
"""
from __future__ import annotations

import numpy as np


def kept_counts(budgets, seq_len: int) -> np.ndarray:
    """Tokens each head keeps on a prompt of seq_len tokens: min(budget, seq_len)."""
    b = np.asarray(budgets)
    if (b < 0).any():
        raise ValueError(f"budgets: expected >= 0, got {int(b.min())}")
    return np.minimum(b, seq_len)


def keep_mask(scores, budgets, window: int, sink: int = 0) -> np.ndarray:
    """bool [..., heads, S]: True where a head keeps a position.

    scores: [..., heads, S] token scores (higher = keep); budgets: [heads] ints.
    """
    scores = np.asarray(scores, dtype=np.float64)
    budgets = np.asarray(budgets)
    if scores.ndim < 2 or budgets.shape != scores.shape[-2:-1]:
        raise ValueError(f"scores [..., heads, S] and budgets [heads]: got {scores.shape} and {budgets.shape}")
    if window < 0 or sink < 0:
        raise ValueError(f"window and sink: expected >= 0, got {window} and {sink}")
    S = scores.shape[-1]
    pos = np.arange(S)
    group = np.full(S, 2)  # 0: window, 1: sink, 2: ranked by score
    group[:sink] = 1
    group[S - min(window, S) :] = 0
    flat = scores.reshape(-1, budgets.shape[0], S)
    mask = np.zeros(flat.shape, dtype=bool)
    kept = kept_counts(budgets, S)
    for bi in range(flat.shape[0]):
        for h in range(flat.shape[1]):
            order = np.lexsort((pos, -flat[bi, h], group))  # group first, then score, then position
            mask[bi, h, order[: kept[h]]] = True
    return mask.reshape(scores.shape)
