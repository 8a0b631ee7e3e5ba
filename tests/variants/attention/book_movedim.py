"""Variant: scales the queries before the product, expands 1-D valid lengths to one per query,
splits heads with unflatten/movedim/flatten, stores the attention weights AFTER dropout (an honest
reading: only eval-mode weights are compared) and uses the book's in-place masking on a clone."""

import math

import torch
from torch import nn


def _mask_scores(scores, valid_lens):
    if valid_lens is None:
        return scores
    b, nq, nk = scores.shape
    if valid_lens.dim() == 1:
        valid_lens = valid_lens[:, None].expand(b, nq)
    flat = scores.reshape(-1, nk).clone()
    mask = torch.arange(nk, dtype=torch.float32)[None, :] < valid_lens.reshape(-1)[:, None]
    flat[~mask] = -1e6
    return flat.reshape(b, nq, nk)


def dot_product_attention(queries, keys, values, valid_lens=None):
    scores = torch.bmm(queries / math.sqrt(queries.shape[-1]), keys.transpose(1, 2))
    weights = nn.functional.softmax(_mask_scores(scores, valid_lens), dim=-1)
    return torch.bmm(weights, values), weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, weights = dot_product_attention(queries, keys, values, valid_lens)
        self.attention_weights = self.dropout(weights)
        return torch.bmm(self.attention_weights, values)


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        q = self.W_q(queries).unsqueeze(2)
        k = self.W_k(keys).unsqueeze(1)
        scores = self.w_v(torch.tanh(q + k)).squeeze(-1)
        w = nn.functional.softmax(_mask_scores(scores, valid_lens), dim=-1)
        self.attention_weights = self.dropout(w)
        return torch.bmm(self.attention_weights, values)


def transpose_qkv(X, num_heads):
    if X.shape[-1] % num_heads != 0:
        raise ValueError("the number of hidden units must be divisible by num_heads")
    return X.unflatten(-1, (num_heads, -1)).movedim(2, 1).flatten(0, 1)


def transpose_output(X, num_heads):
    if X.shape[0] % num_heads != 0:
        raise ValueError("the first dimension must be divisible by num_heads")
    return X.unflatten(0, (-1, num_heads)).movedim(1, 2).flatten(2, 3)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        if num_hiddens % num_heads != 0:
            raise ValueError("num_hiddens must be divisible by num_heads")
        super().__init__()
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        if valid_lens is not None:
            valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
        out = self.attention(transpose_qkv(self.W_q(queries), self.num_heads),
                             transpose_qkv(self.W_k(keys), self.num_heads),
                             transpose_qkv(self.W_v(values), self.num_heads), valid_lens)
        return self.W_o(transpose_output(out, self.num_heads))
