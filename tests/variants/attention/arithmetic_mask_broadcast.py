"""Variant: no matrix products for the attention itself (scores and outputs as broadcast
products summed over an axis), masks by arithmetic (scores * keep - 1e6 * (1 - keep)) with the
keep mask built by cumsum (position + 1 <= valid_len), dropout module named drop_layer, and the
head reshapes written with swapaxes."""

import math

import torch
from torch import nn


def _masked_softmax(scores, valid_lens):
    if valid_lens is not None:
        nk = scores.shape[-1]
        pos1 = torch.ones(nk, dtype=torch.float64).cumsum(0)                # 1, 2, ..., nk
        lens = valid_lens.to(torch.float64)
        lens = lens[:, None, None] if lens.dim() == 1 else lens[:, :, None]
        keep = (pos1 <= lens).to(scores.dtype)
        scores = scores * keep - 1e6 * (1 - keep)
    return torch.softmax(scores, dim=-1)


def _weighted_values(weights, values):
    return (weights.unsqueeze(-1) * values.unsqueeze(1)).sum(dim=2)       # (b, nq, dv)


def dot_product_attention(queries, keys, values, valid_lens=None):
    d = queries.shape[-1]
    scores = (queries.unsqueeze(2) * keys.unsqueeze(1)).sum(dim=-1) / math.sqrt(d)
    weights = _masked_softmax(scores, valid_lens)
    return _weighted_values(weights, values), weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.drop_layer = nn.Dropout(p=dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        weights = dot_product_attention(queries, keys, values, valid_lens)[1]
        self.attention_weights = weights
        return _weighted_values(self.drop_layer(weights), values)


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.drop_layer = nn.Dropout(p=dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        feats = torch.tanh(self.W_q(queries)[:, :, None] + self.W_k(keys)[:, None])
        scores = self.w_v(feats)[:, :, :, 0]
        self.attention_weights = _masked_softmax(scores, valid_lens)
        return _weighted_values(self.drop_layer(self.attention_weights), values)


def transpose_qkv(X, num_heads):
    b, n, h = X.shape
    if num_heads <= 0 or h % num_heads:
        raise ValueError(f"num_hiddens {h} does not split into {num_heads} heads")
    return X.reshape(b, n, num_heads, h // num_heads).swapaxes(1, 2).reshape(b * num_heads, n, -1)


def transpose_output(X, num_heads):
    bh, n, d = X.shape
    if num_heads <= 0 or bh % num_heads:
        raise ValueError(f"{bh} is not divisible by num_heads {num_heads}")
    return X.reshape(bh // num_heads, num_heads, n, d).swapaxes(1, 2).reshape(bh // num_heads, n, -1)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_heads <= 0 or num_hiddens % num_heads:
            raise ValueError(f"num_hiddens {num_hiddens} does not split into {num_heads} heads")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout=dropout)
        for name, size in (("W_q", query_size), ("W_k", key_size), ("W_v", value_size),
                           ("W_o", num_hiddens)):
            setattr(self, name, nn.Linear(size, num_hiddens, bias=bias))

    def forward(self, queries, keys, values, valid_lens=None):
        heads = self.num_heads
        if valid_lens is not None:
            valid_lens = valid_lens.repeat_interleave(heads, dim=0)
        out = self.attention(transpose_qkv(self.W_q(queries), heads),
                             transpose_qkv(self.W_k(keys), heads),
                             transpose_qkv(self.W_v(values), heads), valid_lens)
        return self.W_o(transpose_output(out, heads))
