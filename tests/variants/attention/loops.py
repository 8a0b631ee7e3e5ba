"""Variant: explicit Python loops over examples, queries and heads, with a hand-written stable
softmax (subtract the row max) and masks built from Python ints."""

import math

import torch
from torch import nn


def _row_softmax(row, valid):
    """Softmax of a 1-D row where entries j >= valid are replaced by -1e6."""
    n = row.shape[0]
    if n == 0:
        return row.clone()
    masked = [row[j] if j < valid else row.new_tensor(-1e6) for j in range(n)]
    r = torch.stack(masked)
    e = torch.exp(r - r.max())
    return e / e.sum()


def _weights(scores, valid_lens):
    b, nq, nk = scores.shape
    rows = []
    for i in range(b):
        per_query = []
        for j in range(nq):
            if valid_lens is None:
                valid = nk
            elif valid_lens.dim() == 1:
                valid = float(valid_lens[i])
            else:
                valid = float(valid_lens[i, j])
            per_query.append(_row_softmax(scores[i, j], valid))
        rows.append(torch.stack(per_query) if per_query else scores.new_zeros(0, nk))
    return torch.stack(rows) if rows else scores.new_zeros(0, nq, nk)


def dot_product_attention(queries, keys, values, valid_lens=None):
    d = queries.shape[-1]
    b, nq, nk, dv = queries.shape[0], queries.shape[1], keys.shape[1], values.shape[-1]
    scores = [queries[i] @ keys[i].T / math.sqrt(d) for i in range(b)]
    scores = torch.stack(scores) if scores else queries.new_zeros(0, nq, nk)
    weights = _weights(scores, valid_lens)
    out = [weights[i] @ values[i] for i in range(b)]
    out = torch.stack(out) if out else values.new_zeros(0, nq, dv)
    return out, weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, self.attention_weights = dot_product_attention(queries, keys, values, valid_lens)
        w = self.dropout(self.attention_weights)
        return torch.stack([w[i] @ values[i] for i in range(w.shape[0])]) if w.shape[0] \
            else values.new_zeros(0, queries.shape[1], values.shape[-1])


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        q, k = self.W_q(queries), self.W_k(keys)
        b, nq, nk = q.shape[0], q.shape[1], k.shape[1]
        scores = []
        for i in range(b):
            rows = []
            for j in range(nq):
                feats = torch.tanh(q[i, j][None, :] + k[i])        # (nk, h)
                rows.append(self.w_v(feats)[:, 0])                # (nk,)
            scores.append(torch.stack(rows) if rows else q.new_zeros(0, nk))
        scores = torch.stack(scores) if scores else q.new_zeros(0, nq, nk)
        self.attention_weights = _weights(scores, valid_lens)
        w = self.dropout(self.attention_weights)
        return torch.stack([w[i] @ values[i] for i in range(b)]) if b else values.new_zeros(0, nq, values.shape[-1])


def transpose_qkv(X, num_heads):
    b, n, h = X.shape
    if h % num_heads != 0:
        raise ValueError(f"num_hiddens ({h}) is not divisible by num_heads ({num_heads})")
    size = h // num_heads
    parts = []
    for i in range(b):
        for head in range(num_heads):
            parts.append(X[i, :, head * size:(head + 1) * size])
    return torch.stack(parts) if parts else X.new_zeros(0, n, size)


def transpose_output(X, num_heads):
    bh, n, size = X.shape
    if bh % num_heads != 0:
        raise ValueError(f"{bh} rows cannot be split into groups of num_heads={num_heads}")
    out = []
    for i in range(bh // num_heads):
        out.append(torch.cat([X[i * num_heads + head] for head in range(num_heads)], dim=-1))
    return torch.stack(out) if out else X.new_zeros(0, n, size * num_heads)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError("num_hiddens must be a multiple of num_heads")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        q = transpose_qkv(self.W_q(queries), self.num_heads)
        k = transpose_qkv(self.W_k(keys), self.num_heads)
        v = transpose_qkv(self.W_v(values), self.num_heads)
        if valid_lens is not None:
            valid_lens = torch.stack([valid_lens[i] for i in range(valid_lens.shape[0])
                                      for _ in range(self.num_heads)])
        out = self.attention(q, k, v, valid_lens)
        return self.W_o(transpose_output(out, self.num_heads))
