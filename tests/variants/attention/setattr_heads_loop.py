"""Layers registered with setattr in a loop (same names, same state_dict), a shared base class for
the two scoring modules (dropout via F.dropout with a stored p, weights kept in a non-persistent
buffer), dot_product_attention returning a namedtuple (output, weights), MHA heads split by a
Python loop over heads (slices of the projections stacked head-major per example) and lengths
repeated with Tensor.repeat + reshape."""
import math
from collections import namedtuple

import torch
from torch import nn
from torch.nn import functional as F

Attention = namedtuple("Attention", ["output", "weights"])


def masked_softmax(X, valid_lens=None):
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    b, nq, nk = X.shape
    if valid_lens.dim() == 1:
        lens = valid_lens.reshape(b, 1, 1)
    else:
        lens = valid_lens.reshape(b, nq, 1)
    pad = torch.arange(nk, device=X.device).reshape(1, 1, nk) >= lens
    return F.softmax(X.masked_fill(pad, -1e6), dim=-1)


def dot_product_attention(queries, keys, values, valid_lens=None):
    scores = queries @ keys.transpose(-2, -1) / math.sqrt(queries.size(-1))
    weights = masked_softmax(scores, valid_lens)
    return Attention(weights @ values, weights)


class _WeightedValues(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.p = float(dropout)
        self.register_buffer("attention_weights", None, persistent=False)

    def _combine(self, weights, values):
        self.attention_weights = weights
        return F.dropout(weights, p=self.p, training=self.training) @ values


class DotProductAttention(_WeightedValues):
    def __init__(self, dropout=0.0):
        super().__init__(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, weights = dot_product_attention(queries, keys, values, valid_lens)
        return self._combine(weights, values)


class AdditiveAttention(_WeightedValues):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__(dropout)
        for name, size, out in (("W_k", key_size, num_hiddens), ("W_q", query_size, num_hiddens),
                                ("w_v", num_hiddens, 1)):
            setattr(self, name, nn.Linear(size, out, bias=False))

    def forward(self, queries, keys, values, valid_lens=None):
        feats = torch.tanh(self.W_q(queries)[:, :, None] + self.W_k(keys)[:, None])
        scores = self.w_v(feats)[..., 0]
        return self._combine(masked_softmax(scores, valid_lens), values)


def transpose_qkv(X, num_heads):
    b, n, hidden = X.shape
    if hidden % num_heads:
        raise ValueError(f"num_hiddens ({hidden}) must be divisible by num_heads ({num_heads})")
    h = hidden // num_heads
    heads = [X[:, :, i * h:(i + 1) * h] for i in range(num_heads)]
    return torch.stack(heads, dim=1).reshape(b * num_heads, n, h)


def transpose_output(X, num_heads):
    bh, n, h = X.shape
    if bh % num_heads:
        raise ValueError(f"first dimension ({bh}) must be divisible by num_heads ({num_heads})")
    X = X.reshape(bh // num_heads, num_heads, n, h)
    return torch.cat([X[:, i] for i in range(num_heads)], dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError(f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        for name, size in (("W_q", query_size), ("W_k", key_size), ("W_v", value_size),
                           ("W_o", num_hiddens)):
            self.add_module(name, nn.Linear(size, num_hiddens, bias=bias))

    def forward(self, queries, keys, values, valid_lens=None):
        q = transpose_qkv(self.W_q(queries), self.num_heads)
        k = transpose_qkv(self.W_k(keys), self.num_heads)
        v = transpose_qkv(self.W_v(values), self.num_heads)
        if valid_lens is not None:
            b = valid_lens.shape[0]
            if valid_lens.dim() == 1:
                valid_lens = valid_lens.reshape(b, 1).repeat(1, self.num_heads).reshape(-1)
            else:
                nq = valid_lens.shape[1]
                valid_lens = valid_lens.reshape(b, 1, nq).repeat(1, self.num_heads, 1).reshape(-1, nq)
        return self.W_o(transpose_output(self.attention(q, k, v, valid_lens), self.num_heads))
