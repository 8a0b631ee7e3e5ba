"""Variant: multi-head attention that projects straight into heads with einsum over the
Linear layers' weights viewed as (heads, d_head, in) and combines the heads with W_o's weight
viewed as (out, heads, d_head); 1-D valid lengths expanded to one per query; torch.where mask
and a hand-written stable softmax (amax shift); additive scores by einsum with w_v's weight."""

import math

import torch
from torch import nn


def _per_query_lens(valid_lens, b, nq):
    if valid_lens.dim() == 1:
        return valid_lens[:, None].expand(b, nq)
    return valid_lens


def _softmax(s):
    if s.shape[-1] == 0:
        return s.clone()
    e = torch.exp(s - s.amax(dim=-1, keepdim=True).detach())
    return e / e.sum(dim=-1, keepdim=True)


def _masked_softmax(scores, valid_lens):
    if valid_lens is None:
        return _softmax(scores)
    b, nq, nk = scores.shape
    lens = _per_query_lens(valid_lens, b, nq)
    keep = torch.arange(nk)[None, None, :] < lens[..., None]
    return _softmax(torch.where(keep, scores, torch.tensor(-1e6, dtype=scores.dtype)))


def dot_product_attention(queries, keys, values, valid_lens=None):
    scores = torch.einsum("bqd,bkd->bqk", queries, keys) / math.sqrt(keys.shape[-1])
    weights = _masked_softmax(scores, valid_lens)
    return torch.einsum("bqk,bkv->bqv", weights, values), weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        out, weights = dot_product_attention(queries, keys, values, valid_lens)
        self.attention_weights = weights
        if self.training and self.dropout.p > 0:
            out = torch.einsum("bqk,bkv->bqv", self.dropout(weights), values)
        return out


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        q = torch.einsum("bqi,hi->bqh", queries, self.W_q.weight)
        k = torch.einsum("bki,hi->bkh", keys, self.W_k.weight)
        scores = torch.einsum("bqkh,h->bqk", torch.tanh(q[:, :, None] + k[:, None]), self.w_v.weight[0])
        self.attention_weights = _masked_softmax(scores, valid_lens)
        return torch.einsum("bqk,bkv->bqv", self.dropout(self.attention_weights), values)


def _divisible(n, heads, what):
    if heads < 1 or n % heads:
        raise ValueError(f"{what} ({n}) must be divisible by num_heads ({heads})")


def transpose_qkv(X, num_heads):
    b, n, h = X.shape
    _divisible(h, num_heads, "num_hiddens")
    return torch.einsum("bnhd->bhnd", X.reshape(b, n, num_heads, h // num_heads)).reshape(
        b * num_heads, n, h // num_heads)


def transpose_output(X, num_heads):
    bh, n, d = X.shape
    _divisible(bh, num_heads, "the first dimension")
    return torch.einsum("bhnd->bnhd", X.reshape(bh // num_heads, num_heads, n, d)).reshape(
        bh // num_heads, n, num_heads * d)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        _divisible(num_hiddens, num_heads, "num_hiddens")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def _heads(self, layer, x):
        """(b, n, in) -> (b * heads, n, d_head) directly from the layer's weight and bias."""
        h = self.num_heads
        w = layer.weight.reshape(h, -1, layer.weight.shape[1])             # (heads, d_head, in)
        y = torch.einsum("bni,hdi->bhnd", x, w)
        if layer.bias is not None:
            y = y + layer.bias.reshape(1, h, 1, -1)
        return y.flatten(0, 1)

    def forward(self, queries, keys, values, valid_lens=None):
        h = self.num_heads
        q, k, v = self._heads(self.W_q, queries), self._heads(self.W_k, keys), self._heads(self.W_v, values)
        if valid_lens is not None:
            valid_lens = torch.repeat_interleave(valid_lens, h, dim=0)
        out = self.attention(q, k, v, valid_lens)                          # (b * heads, nq, d_head)
        b = out.shape[0] // h
        out = out.reshape(b, h, out.shape[1], out.shape[2])
        wo = self.W_o.weight.reshape(self.W_o.weight.shape[0], h, -1)      # (out, heads, d_head)
        y = torch.einsum("bhnd,ohd->bno", out, wo)
        return y if self.W_o.bias is None else y + self.W_o.bias
