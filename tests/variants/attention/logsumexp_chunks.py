"""Variant: hand-written stable softmax (exp(s - amax) / sum), masking by torch.where against a broadcast length
tensor, heads split with torch.chunk / torch.cat, valid lengths repeated with Tensor.repeat_interleave,
additive scores via expand and a matrix product with w_v's weight, and a generator expression for
the per-head projections."""

import math

import torch
from torch import nn


def _softmax(s):
    # (exp(s - logsumexp(s)) would be ~1% off for rows masked to -1e6 in float32: the -1e6 swallows
    # log(nk) when rounded, so that formula does not give the uniform 1/nk the contract asks for)
    if s.shape[-1] == 0:
        return s.clone()
    e = torch.exp(s - s.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


def _masked_softmax(scores, valid_lens):
    if valid_lens is None:
        return _softmax(scores)
    b, nq, nk = scores.shape
    lens = valid_lens.unsqueeze(-1)                     # (b, 1) or (b, nq, 1)
    if lens.dim() == 2:
        lens = lens.unsqueeze(1)                        # (b, 1, 1)
    pos = torch.arange(nk).reshape(1, 1, nk)
    return _softmax(torch.where(pos < lens, scores, scores.new_tensor(-1e6)))


def dot_product_attention(queries, keys, values, valid_lens=None):
    scale = 1.0 / math.sqrt(queries.shape[-1])
    weights = _masked_softmax(torch.matmul(queries, keys.transpose(-1, -2)) * scale, valid_lens)
    return torch.matmul(weights, values), weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, self.attention_weights = dot_product_attention(queries, keys, values, valid_lens)
        return torch.matmul(self.drop(self.attention_weights), values)


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        q, k = self.W_q(queries), self.W_k(keys)
        b, nq, nk, h = q.shape[0], q.shape[1], k.shape[1], q.shape[2]
        feats = torch.tanh(q[:, :, None, :].expand(b, nq, nk, h) + k[:, None, :, :].expand(b, nq, nk, h))
        scores = (feats @ self.w_v.weight.T).reshape(b, nq, nk)
        self.attention_weights = _masked_softmax(scores, valid_lens)
        return self.drop(self.attention_weights) @ values


def transpose_qkv(X, num_heads):
    if X.shape[2] % num_heads:
        raise ValueError(f"{X.shape[2]} hidden units do not split into {num_heads} heads")
    heads = torch.chunk(X, num_heads, dim=2) if X.shape[2] else (X,) * num_heads
    return torch.stack(heads, dim=1).reshape(-1, X.shape[1], X.shape[2] // num_heads)


def transpose_output(X, num_heads):
    if X.shape[0] % num_heads:
        raise ValueError(f"{X.shape[0]} rows do not group into {num_heads} heads")
    grouped = X.reshape(-1, num_heads, X.shape[1], X.shape[2])
    return torch.cat([grouped[:, i] for i in range(num_heads)], dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_hiddens % num_heads != 0:
            raise ValueError(f"num_hiddens ({num_hiddens}) % num_heads ({num_heads}) != 0")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        q, k, v = (transpose_qkv(layer(x), self.num_heads)
                   for layer, x in ((self.W_q, queries), (self.W_k, keys), (self.W_v, values)))
        if valid_lens is not None:
            valid_lens = valid_lens.repeat_interleave(self.num_heads, dim=0)
        return self.W_o(transpose_output(self.attention(q, k, v, valid_lens), self.num_heads))
