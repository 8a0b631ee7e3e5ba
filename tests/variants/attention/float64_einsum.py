"""Variant: computes in float64 internally with torch.einsum and masked_fill, casts back to the
input dtype; dropout through F.dropout(training=self.training); Linear layers applied with
F.linear on float64 copies of the weights."""

import math

import torch
from torch import nn
from torch.nn import functional as F


def _masked_softmax64(scores, valid_lens):
    if valid_lens is not None:
        lens = valid_lens.to(torch.float64)
        lens = lens[:, None, None] if lens.dim() == 1 else lens[:, :, None]
        pos = torch.arange(scores.shape[-1], dtype=torch.float64)
        scores = scores.masked_fill(pos >= lens, -1e6)
    return torch.softmax(scores, dim=-1)


def _attend64(q, k, v, valid_lens):
    scores = torch.einsum("bqd,bkd->bqk", q, k) / math.sqrt(q.shape[-1])
    w = _masked_softmax64(scores, valid_lens)
    return w


def dot_product_attention(queries, keys, values, valid_lens=None):
    dtype = queries.dtype
    w = _attend64(queries.double(), keys.double(), values.double(), valid_lens)
    out = torch.einsum("bqk,bkv->bqv", w, values.double())
    return out.to(dtype), w.to(dtype)


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.p = dropout

    def forward(self, queries, keys, values, valid_lens=None):
        dtype = queries.dtype
        w = _attend64(queries.double(), keys.double(), values.double(), valid_lens)
        self.attention_weights = w.to(dtype)
        w = F.dropout(w, self.p, training=self.training)
        return torch.einsum("bqk,bkv->bqv", w, values.double()).to(dtype)


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.p = dropout

    def forward(self, queries, keys, values, valid_lens=None):
        dtype = queries.dtype
        q = F.linear(queries.double(), self.W_q.weight.double())
        k = F.linear(keys.double(), self.W_k.weight.double())
        feats = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))
        scores = torch.einsum("bqkh,h->bqk", feats, self.w_v.weight.double()[0])
        w = _masked_softmax64(scores, valid_lens)
        self.attention_weights = w.to(dtype)
        w = F.dropout(w, self.p, training=self.training)
        return torch.einsum("bqk,bkv->bqv", w, values.double()).to(dtype)


def transpose_qkv(X, num_heads):
    b, n, h = X.shape
    if h % num_heads:
        raise ValueError(f"cannot split {h} hidden units into {num_heads} heads")
    return X.reshape(b, n, num_heads, h // num_heads).transpose(1, 2).reshape(b * num_heads, n, -1)


def transpose_output(X, num_heads):
    bh, n, d = X.shape
    if bh % num_heads:
        raise ValueError(f"first dimension {bh} is not a multiple of num_heads {num_heads}")
    return X.reshape(bh // num_heads, num_heads, n, d).transpose(1, 2).reshape(bh // num_heads, n, -1)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_hiddens % num_heads != 0:
            raise ValueError(f"num_hiddens={num_hiddens} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        h = self.num_heads
        q = transpose_qkv(self.W_q(queries), h)
        k = transpose_qkv(self.W_k(keys), h)
        v = transpose_qkv(self.W_v(values), h)
        if valid_lens is not None:
            valid_lens = valid_lens.repeat_interleave(h, dim=0)
        return self.W_o(transpose_output(self.attention(q, k, v, valid_lens), h))
