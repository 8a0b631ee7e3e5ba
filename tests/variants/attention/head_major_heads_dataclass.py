"""Attention, written with type hints and a small config dataclass; multi-head attention keeps the
heads head-major internally (all examples of head 0, then head 1, ...), which lets the valid
lengths be tiled with Tensor.repeat."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

MASK_VALUE: float = -1e6


def _masked_softmax(X: Tensor, valid_lens: Optional[Tensor] = None) -> Tensor:
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    b, nq, nk = X.shape
    lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None]
    keep = torch.arange(nk)[None, None, :] < lens[..., None]
    return F.softmax(X.masked_fill(~keep, MASK_VALUE), dim=-1)


def dot_product_attention(queries: Tensor, keys: Tensor, values: Tensor,
                          valid_lens: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    d = queries.shape[-1]
    scores = torch.matmul(queries, keys.transpose(-2, -1))
    scores /= math.sqrt(d)                   # in place on my own intermediate
    weights = _masked_softmax(scores, valid_lens)
    return torch.matmul(weights, values), weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: Optional[Tensor] = None

    def forward(self, queries: Tensor, keys: Tensor, values: Tensor,
                valid_lens: Optional[Tensor] = None) -> Tensor:
        _, self.attention_weights = dot_product_attention(queries, keys, values, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class AdditiveAttention(nn.Module):
    def __init__(self, key_size: int, query_size: int, num_hiddens: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        features = self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1)
        features = features.tanh_()           # in place on my own intermediate
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = _masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


def transpose_qkv(X: Tensor, num_heads: int) -> Tensor:
    if X.shape[2] % num_heads:
        raise ValueError(f"num_hiddens ({X.shape[2]}) is not divisible by num_heads ({num_heads})")
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1).permute(0, 2, 1, 3)
    return X.reshape(-1, X.shape[2], X.shape[3])


def transpose_output(X: Tensor, num_heads: int) -> Tensor:
    if X.shape[0] % num_heads:
        raise ValueError(f"the first dimension ({X.shape[0]}) is not divisible by num_heads ({num_heads})")
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
    return X.reshape(X.shape[0], X.shape[1], -1)


@dataclass(frozen=True)
class _HeadLayout:
    """Head-major layout: row h * batch + b holds head h of example b."""
    num_heads: int

    def split(self, X: Tensor) -> Tensor:
        b, n, hidden = X.shape
        return X.reshape(b, n, self.num_heads, hidden // self.num_heads).permute(2, 0, 1, 3) \
                .reshape(self.num_heads * b, n, hidden // self.num_heads)

    def join(self, X: Tensor) -> Tensor:
        hb, n, d = X.shape
        return X.reshape(self.num_heads, hb // self.num_heads, n, d).permute(1, 2, 0, 3) \
                .reshape(hb // self.num_heads, n, self.num_heads * d)

    def lengths(self, valid_lens: Optional[Tensor]) -> Optional[Tensor]:
        if valid_lens is None:
            return None
        reps = (self.num_heads,) + (1,) * (valid_lens.dim() - 1)
        return valid_lens.repeat(*reps)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size: int, query_size: int, value_size: int, num_hiddens: int,
                 num_heads: int, dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError(f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.layout = _HeadLayout(num_heads)
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        L = self.layout
        out = self.attention(L.split(self.W_q(queries)), L.split(self.W_k(keys)),
                             L.split(self.W_v(values)), L.lengths(valid_lens))
        return self.W_o(L.join(out))
