"""Variant: the book's literal sequence mask (clone, then X[~mask] = -1e6 on the clone), queries
scaled before the product (q / sqrt(d)) @ k^T with Tensor.mT, dropout by F.dropout with the
module's training flag, heads split by chunk + stack and joined by unbind + cat."""

import math

import torch
from torch import nn
from torch.nn import functional as F


def _masked_softmax(X, valid_lens):
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    b, nq, nk = X.shape
    lens = (torch.repeat_interleave(valid_lens, nq) if valid_lens.dim() == 1
            else valid_lens.reshape(-1))
    rows = X.reshape(-1, nk).clone()
    mask = torch.arange(nk, dtype=torch.float32)[None, :] < lens[:, None]
    rows[~mask] = -1e6
    return F.softmax(rows.reshape(b, nq, nk), dim=-1)


def dot_product_attention(queries, keys, values, valid_lens=None):
    q = queries / math.sqrt(queries.shape[-1])
    weights = _masked_softmax(q @ keys.mT, valid_lens)
    return weights @ values, weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.rate = dropout

    def forward(self, queries, keys, values, valid_lens=None):
        _, w = dot_product_attention(queries, keys, values, valid_lens)
        self.attention_weights = w
        return F.dropout(w, self.rate, self.training) @ values


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.rate = dropout

    def forward(self, queries, keys, values, valid_lens=None):
        qh = self.W_q(queries)[:, :, None, :]
        kh = self.W_k(keys)[:, None, :, :]
        scores = self.w_v(torch.tanh(qh + kh)).squeeze(-1)
        self.attention_weights = _masked_softmax(scores, valid_lens)
        return F.dropout(self.attention_weights, self.rate, self.training) @ values


def transpose_qkv(X, num_heads):
    if num_heads < 1 or X.shape[-1] % num_heads != 0:
        raise ValueError(f"cannot split {X.shape[-1]} hidden units into {num_heads} heads")
    heads = torch.stack(X.chunk(num_heads, dim=-1), dim=1)      # (b, heads, n, d)
    return heads.flatten(0, 1)


def transpose_output(X, num_heads):
    if num_heads < 1 or X.shape[0] % num_heads != 0:
        raise ValueError(f"{X.shape[0]} rows are not a multiple of {num_heads} heads")
    grouped = X.reshape(X.shape[0] // num_heads, num_heads, X.shape[1], X.shape[2])
    return torch.cat(grouped.unbind(1), dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError("num_hiddens must be a multiple of num_heads")
        self.num_heads = num_heads
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.attention = DotProductAttention(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        q = transpose_qkv(self.W_q(queries), self.num_heads)
        k = transpose_qkv(self.W_k(keys), self.num_heads)
        v = transpose_qkv(self.W_v(values), self.num_heads)
        lens = None if valid_lens is None else torch.repeat_interleave(valid_lens, self.num_heads, 0)
        return self.W_o(transpose_output(self.attention(q, k, v, lens), self.num_heads))
