"""Variant (red team, round of false failures): W_o applied head by head and summed (W_o(concat(heads))
= sum_h head_h @ W_o.weight[:, h-th block].T + b); heads split by split + stack + flatten and joined
by unflatten + permute + flatten; attention_weights exposed through a read-only @property over a
private attribute; the mask value lives in a non-persistent buffer (follows .double()/.float());
dropout through torch.dropout(weights, p, train)."""
import math

import torch
from torch import nn


def _lens_shape(valid_lens, b, nq):
    if valid_lens is None:
        return None
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError("valid_lens must be a tensor")
    if valid_lens.dim() == 1 and valid_lens.numel() == b:
        return valid_lens[:, None, None]
    if valid_lens.dim() == 2 and tuple(valid_lens.shape) == (b, nq):
        return valid_lens[:, :, None]
    raise ValueError(f"valid_lens must be ({b},) or ({b}, {nq})")


def _weights(queries, keys, valid_lens, neg):
    for t in (queries, keys):
        if not isinstance(t, torch.Tensor):
            raise TypeError("queries/keys must be tensors")
        if t.dim() != 3:
            raise ValueError("queries/keys must be 3-D")
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError("queries and keys must share the feature size")
    b, nq, d = queries.shape
    lens = _lens_shape(valid_lens, b, nq)
    scores = queries @ keys.transpose(-1, -2) / math.sqrt(d)
    if lens is not None:
        keep = torch.arange(scores.shape[-1], device=scores.device) < lens
        scores = torch.where(keep, scores, neg.to(scores.dtype))
    return torch.softmax(scores, dim=-1)


def dot_product_attention(queries, keys, values, valid_lens=None):
    if not isinstance(values, torch.Tensor) or values.dim() != 3:
        raise ValueError("values must be a 3-D tensor")
    w = _weights(queries, keys, valid_lens, torch.tensor(-1e6, dtype=torch.float64))
    return w @ values, w


class _WeightsKeeper(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.p = float(dropout)
        self.register_buffer("neg", torch.tensor(-1e6), persistent=False)
        self._weights = None

    @property
    def attention_weights(self):
        return self._weights

    def _apply_weights(self, weights, values):
        self._weights = weights
        return torch.dropout(weights, self.p, self.training) @ values


class DotProductAttention(_WeightsKeeper):
    def __init__(self, dropout=0.0):
        super().__init__(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        return self._apply_weights(_weights(queries, keys, valid_lens, self.neg), values)


class AdditiveAttention(_WeightsKeeper):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__(dropout)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)

    def forward(self, queries, keys, values, valid_lens=None):
        b, nq = queries.shape[:2]
        lens = _lens_shape(valid_lens, b, nq)
        f = torch.tanh(self.W_q(queries)[:, :, None] + self.W_k(keys)[:, None])
        scores = (f @ self.w_v.weight[0])                              # (b, nq, nk)
        if lens is not None:
            keep = torch.arange(scores.shape[-1]) < lens
            scores = torch.where(keep, scores, self.neg.to(scores.dtype))
        return self._apply_weights(torch.softmax(scores, dim=-1), values)


def transpose_qkv(X, num_heads):
    b, n, hidden = X.shape
    if num_heads < 1 or hidden % num_heads:
        raise ValueError(f"num_hiddens ({hidden}) must be divisible by num_heads ({num_heads})")
    heads = torch.stack(X.split(hidden // num_heads, dim=-1), dim=1)      # (b, H, n, d)
    return heads.flatten(0, 1)


def transpose_output(X, num_heads):
    if num_heads < 1 or X.shape[0] % num_heads:
        raise ValueError(f"first dimension ({X.shape[0]}) must be divisible by num_heads ({num_heads})")
    return X.unflatten(0, (-1, num_heads)).permute(0, 2, 1, 3).flatten(2)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout=0.0, bias=False):
        super().__init__()
        if num_heads < 1 or num_hiddens % num_heads:
            raise ValueError(f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads})")
        self.num_heads, self.head_dim = num_heads, num_hiddens // num_heads
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.attention = DotProductAttention(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        H, d = self.num_heads, self.head_dim
        q = transpose_qkv(self.W_q(queries), H)
        k = transpose_qkv(self.W_k(keys), H)
        v = transpose_qkv(self.W_v(values), H)
        if valid_lens is not None:
            valid_lens = torch.repeat_interleave(valid_lens, H, dim=0)
        heads = self.attention(q, k, v, valid_lens).unflatten(0, (-1, H))   # (b, H, nq, d)
        out = None
        for h in range(H):
            part = heads[:, h] @ self.W_o.weight[:, h * d:(h + 1) * d].T
            out = part if out is None else out + part
        if self.W_o.bias is not None:
            out = out + self.W_o.bias
        return out
