"""Variant: hand-written dropout (torch.bernoulli mask, scaled by 1/(1-p), training mode only, 0 for p = 1),
scores by torch.baddbmm with alpha = 1/sqrt(d), masking with masked_fill(-1e6), additive scores
as a weighted sum over the hidden units with w_v's weight row, and heads split with unflatten /
transpose / flatten."""

import math

import torch
from torch import nn


def _masked_softmax(scores, valid_lens):
    if valid_lens is not None:
        nk = scores.shape[-1]
        lens = valid_lens[:, None, None] if valid_lens.dim() == 1 else valid_lens[:, :, None]
        outside = torch.arange(nk, device=scores.device).reshape(1, 1, nk) >= lens
        scores = scores.masked_fill(outside, -1e6)
    return torch.softmax(scores, dim=-1)


def _dropout(w, p, training):
    if not training or p == 0:
        return w
    if p == 1:                  # as the book's dropout_layer: every weight dropped (1 / (1 - p) is infinite)
        return torch.zeros_like(w)
    keep = torch.bernoulli(torch.full_like(w, 1.0 - p))
    return w * keep / (1.0 - p)


def dot_product_attention(queries, keys, values, valid_lens=None):
    b, nq, d = queries.shape
    nk = keys.shape[1]
    base = queries.new_zeros(b, nq, nk)
    scores = torch.baddbmm(base, queries, keys.transpose(1, 2), beta=0.0, alpha=1.0 / math.sqrt(d))
    weights = _masked_softmax(scores, valid_lens)
    return torch.bmm(weights, values), weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.p = float(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, self.attention_weights = dot_product_attention(queries, keys, values, valid_lens)
        return torch.bmm(_dropout(self.attention_weights, self.p, self.training), values)


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.p = float(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        feats = torch.tanh(self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1))
        scores = (feats * self.w_v.weight[0]).sum(dim=-1)              # (b, nq, nk)
        self.attention_weights = _masked_softmax(scores, valid_lens)
        return torch.bmm(_dropout(self.attention_weights, self.p, self.training), values)


def _heads_ok(size, num_heads, what):
    if num_heads < 1 or size % num_heads:
        raise ValueError(f"{what} ({size}) is not divisible by num_heads ({num_heads})")


def transpose_qkv(X, num_heads):
    _heads_ok(X.shape[2], num_heads, "num_hiddens")
    return X.unflatten(2, (num_heads, X.shape[2] // num_heads)).transpose(1, 2).flatten(0, 1)


def transpose_output(X, num_heads):
    _heads_ok(X.shape[0], num_heads, "the first dimension")
    return X.unflatten(0, (X.shape[0] // num_heads, num_heads)).transpose(1, 2).flatten(2, 3)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        _heads_ok(num_hiddens, num_heads, "num_hiddens")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        h = self.num_heads
        q, k, v = (transpose_qkv(layer(x), h) for layer, x in
                   ((self.W_q, queries), (self.W_k, keys), (self.W_v, values)))
        if valid_lens is not None:
            valid_lens = valid_lens.repeat_interleave(h, dim=0)
        out = self.attention(q, k, v, valid_lens=valid_lens)
        return self.W_o(transpose_output(out, h))
