"""CokvPress: a kvpress press that keeps a cokv table's per-head budgets.

Like kvpress's AdaKVPress and DuoAttentionPress it compresses head by head through
``module.masked_key_indices`` (kvpress's attention patch hides those keys while decoding), so it
needs an attention implementation other than "eager". The tokens a head keeps are the ones
``cokv.keep_mask`` picks from the scorer press's scores: the last ``window`` positions, the first
``sink``, then the best-scored, min(budget, prompt length) in all.

    from kvpress import KVPressTextGenerationPipeline, SnapKVPress
    from cokv.press import CokvPress
    press = CokvPress.from_table("code.cokv-ssv.budget.json", mean_budget=64)
    pipe(context, question=question, press=press)

Importing this module imports torch and kvpress.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from kvpress.presses.base_press import BasePress
from kvpress.presses.scorer_press import ScorerPress
from kvpress.presses.snapkv_press import SnapKVPress

from .table import BudgetTable, load_table


@dataclass
class CokvPress(BasePress):
    """Per-head budgets from a cokv table, tokens ranked by a kvpress ScorerPress.

    budgets: int [n_layers, n_kv_heads], prompt tokens kept per KV head, window included.
    press: the token scorer (default SnapKVPress with the table's window as its observation
    window). window / sink: positions kept before any scored one (the table's by default).
    record: keep each layer's scores and kept mask of the last prefill in ``records``.
    """

    budgets: np.ndarray
    press: Optional[ScorerPress] = None
    window: int = 8
    sink: int = 0
    record: bool = False
    kept: dict = field(init=False, default_factory=dict)  # layer -> kept tokens per KV head
    records: dict = field(init=False, default_factory=dict)  # layer -> (scores, kept mask), numpy
    _seq_len: int = field(init=False, default=0)

    def __post_init__(self):
        b = np.asarray(self.budgets)
        if b.ndim != 2 or not np.issubdtype(b.dtype, np.integer) or (b < 0).any():
            raise ValueError(f"budgets: expected integers >= 0 of shape [n_layers, n_kv_heads], got {b.dtype} {b.shape}")
        self.budgets = b.astype(np.int64)
        if self.window < 0 or self.sink < 0:
            raise ValueError(f"window and sink: expected >= 0, got {self.window} and {self.sink}")
        if self.press is None:
            self.press = SnapKVPress(window_size=max(1, self.window))
        if not isinstance(self.press, ScorerPress):
            raise TypeError(f"press: expected a kvpress ScorerPress, got {type(self.press).__name__}")

    @classmethod
    def from_table(cls, table, mean_budget=None, *, alpha=None, index=None, press=None, record=False):
        """From a BudgetTable or a table file; mean_budget picks the table (optional when it has one)."""
        t = table if isinstance(table, BudgetTable) else load_table(table)
        return cls(t.budgets(mean_budget, alpha=alpha, index=index), press=press, window=t.window, sink=t.sink,
                   record=record)

    def post_init_from_model(self, model):
        self.press.post_init_from_model(model)
        cfg = model.config
        want = (cfg.num_hidden_layers, getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)
        if tuple(self.budgets.shape) != want:
            raise ValueError(f"budgets: expected shape {want} (the model's layers x KV heads), got {self.budgets.shape}")

    @property
    def compression_ratio(self) -> float:
        """Fraction of prompt tokens removed at the last prefill."""
        if not self._seq_len:
            raise AssertionError("run a forward pass first: the ratio depends on the prompt length")
        return 1.0 - float(np.minimum(self.budgets, self._seq_len).sum()) / (self.budgets.size * self._seq_len)

    @compression_ratio.setter
    def compression_ratio(self, value):
        raise AttributeError("CokvPress's compression follows its table; pick another mean_budget instead")

    def compress(self, module, hidden_states, keys, values, attentions, kwargs):
        assert module.config._attn_implementation != "eager", "eager attention is not supported (masked keys)"
        bsz, n_kv, seq_len, _ = keys.shape
        layer = int(module.layer_idx)
        self._seq_len = seq_len
        kept = np.minimum(self.budgets[layer], seq_len)
        self.kept[layer] = kept
        if (kept >= seq_len).all():
            module.masked_key_indices = None
            return keys, values
        scores = self.press.score(module, hidden_states, keys, values, attentions, kwargs).float()
        # Order: window, then sink, then score (descending), then position; a stable two-pass sort.
        order = torch.argsort(scores, dim=-1, descending=True, stable=True)
        group = torch.full((seq_len,), 2, dtype=torch.int8, device=keys.device)
        group[: self.sink] = 1
        group[seq_len - min(self.window, seq_len) :] = 0
        order = order.gather(-1, torch.argsort(group[order], dim=-1, stable=True))
        rank = torch.empty_like(order)
        rank.scatter_(-1, order, torch.arange(seq_len, device=keys.device).expand_as(order))
        keep = rank < torch.as_tensor(kept, device=keys.device).view(1, n_kv, 1)
        if self.record:
            self.records[layer] = (scores.cpu().numpy(), keep.cpu().numpy())
        module.masked_key_indices = torch.nonzero(~keep, as_tuple=True)
        return keys, values
