"""MultiHeadAttention calls self.attention once PER HEAD on column slices of the projections
(dropout per call), concatenates the head outputs along the features (the book's head order),
and leaves self.attention.attention_weights as the (batch * num_heads, nq, nk) stack in the book's
order. Plain F.softmax-based masked softmax; transpose_qkv/transpose_output as in the book."""
import math

import torch
from torch import nn


def _softmax(s):
    return torch.softmax(s, dim=-1)


def masked_softmax(X, valid_lens=None):
    if valid_lens is None:
        return _softmax(X)
    b, nq, nk = X.shape
    lens = valid_lens.reshape(b, 1, 1) if valid_lens.dim() == 1 else valid_lens.reshape(b, nq, 1)
    scores = torch.where(torch.arange(nk).reshape(1, 1, nk) < lens, X, -1e6)
    return _softmax(scores)


def dot_product_attention(queries, keys, values, valid_lens=None):
    d = queries.shape[-1]
    scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
    weights = masked_softmax(scores, valid_lens)
    return torch.bmm(weights, values), weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, self.attention_weights = dot_product_attention(queries, keys, values, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        q, k = self.W_q(queries), self.W_k(keys)
        features = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


def transpose_qkv(X, num_heads):
    if X.shape[2] % num_heads != 0:
        raise ValueError("num_hiddens must be divisible by num_heads")
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1).permute(0, 2, 1, 3)
    return X.reshape(-1, X.shape[2], X.shape[3])


def transpose_output(X, num_heads):
    if X.shape[0] % num_heads != 0:
        raise ValueError("first dimension must be divisible by num_heads")
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
    return X.reshape(X.shape[0], X.shape[1], -1)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_hiddens % num_heads != 0:
            raise ValueError(f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        q, k, v = self.W_q(queries), self.W_k(keys), self.W_v(values)
        h = self.num_heads
        d = q.shape[-1] // h
        outs, weights = [], []
        for i in range(h):
            cols = slice(i * d, (i + 1) * d)
            outs.append(self.attention(q[..., cols], k[..., cols], v[..., cols], valid_lens))
            weights.append(self.attention.attention_weights)
        b, nq, nk = q.shape[0], q.shape[1], k.shape[1]
        self.attention.attention_weights = torch.stack(weights, dim=1).reshape(b * h, nq, nk)
        return self.W_o(torch.cat(outs, dim=-1))
