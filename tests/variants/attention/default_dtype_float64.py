"""The instructor's solution in a notebook that sets torch's default dtype to float64 at the top:
its layers are made float64, and module.float() must make them float32 again."""

import math

import torch

torch.set_default_dtype(torch.float64)   # I like the extra precision in my notebook
from torch import nn


def masked_softmax(X, valid_lens=None):
    """Softmax over the last axis of ``X`` (batch, nq, nk), keys ``j >= valid_len`` masked.

    Masked scores are replaced by -1e6 (as in the book), so a row whose valid length is 0
    comes out uniform.
    """
    if valid_lens is None:
        return torch.softmax(X, dim=-1)
    valid_lens = torch.as_tensor(valid_lens, device=X.device)
    if valid_lens.dim() == 1:
        lens = valid_lens[:, None, None]          # (batch, 1, 1): same for every query
    else:
        lens = valid_lens[:, :, None]             # (batch, nq, 1): one per query
    positions = torch.arange(X.shape[-1], device=X.device)
    keep = positions < lens                       # (batch, nq or 1, nk)
    X = torch.where(keep, X, torch.full((), -1e6, dtype=X.dtype, device=X.device))
    return torch.softmax(X, dim=-1)


def _check_valid_lens(valid_lens, batch, nq):
    if valid_lens is None:
        return
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError(f"valid_lens must be a tensor or None, got {type(valid_lens).__name__}")
    if valid_lens.dim() == 1 and valid_lens.shape[0] == batch:
        return
    if valid_lens.dim() == 2 and tuple(valid_lens.shape) == (batch, nq):
        return
    raise ValueError(
        f"valid_lens must have shape ({batch},) or ({batch}, {nq}), got {tuple(valid_lens.shape)}"
    )


def _check_qkv(queries, keys, values):
    for name, t in (("queries", queries), ("keys", keys), ("values", values)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(t).__name__}")
        if t.dim() != 3:
            raise ValueError(f"{name} must be 3-D (batch, n, features), got shape {tuple(t.shape)}")
    if not (queries.shape[0] == keys.shape[0] == values.shape[0]):
        raise ValueError("queries, keys and values must have the same batch size")
    if keys.shape[1] != values.shape[1]:
        raise ValueError(
            f"keys and values must have the same number of positions, "
            f"got {keys.shape[1]} and {values.shape[1]}"
        )


def dot_product_attention(queries, keys, values, valid_lens=None):
    """Scaled dot-product attention; returns ``(output, weights)``."""
    _check_qkv(queries, keys, values)
    if queries.shape[2] != keys.shape[2]:
        raise ValueError(
            f"queries and keys must have the same feature size, "
            f"got {queries.shape[2]} and {keys.shape[2]}"
        )
    _check_valid_lens(valid_lens, queries.shape[0], queries.shape[1])
    d = queries.shape[-1]
    scores = queries @ keys.transpose(1, 2) / math.sqrt(d)
    weights = masked_softmax(scores, valid_lens)
    return weights @ values, weights


class DotProductAttention(nn.Module):
    """Scaled dot-product attention with dropout on the attention weights."""

    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, weights = dot_product_attention(queries, keys, values, valid_lens)
        self.attention_weights = weights
        return self.dropout(weights) @ values            # nn.Dropout is the identity in eval mode


class AdditiveAttention(nn.Module):
    """Additive attention: scores ``w_v(tanh(W_q q + W_k k))``."""

    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _check_qkv(queries, keys, values)
        _check_valid_lens(valid_lens, queries.shape[0], queries.shape[1])
        q = self.W_q(queries)                                # (batch, nq, h)
        k = self.W_k(keys)                                   # (batch, nk, h)
        features = torch.tanh(q[:, :, None, :] + k[:, None, :, :])   # (batch, nq, nk, h)
        scores = self.w_v(features)[..., 0]                  # (batch, nq, nk)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return self.dropout(self.attention_weights) @ values


def transpose_qkv(X, num_heads):
    """(batch, n, num_hiddens) -> (batch * num_heads, n, num_hiddens // num_heads)."""
    if X.dim() != 3:
        raise ValueError(f"X must be 3-D (batch, n, num_hiddens), got shape {tuple(X.shape)}")
    batch, n, num_hiddens = X.shape
    if num_heads < 1 or num_hiddens % num_heads != 0:
        raise ValueError(
            f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads})"
        )
    X = X.reshape(batch, n, num_heads, num_hiddens // num_heads)
    X = X.permute(0, 2, 1, 3)                                # (batch, heads, n, d)
    return X.reshape(batch * num_heads, n, num_hiddens // num_heads)


def transpose_output(X, num_heads):
    """(batch * num_heads, n, d) -> (batch, n, num_heads * d); undoes ``transpose_qkv``."""
    if X.dim() != 3:
        raise ValueError(f"X must be 3-D (batch * num_heads, n, d), got shape {tuple(X.shape)}")
    bh, n, d = X.shape
    if num_heads < 1 or bh % num_heads != 0:
        raise ValueError(f"the first dimension ({bh}) must be divisible by num_heads ({num_heads})")
    X = X.reshape(bh // num_heads, num_heads, n, d)
    X = X.permute(0, 2, 1, 3)                                # (batch, n, heads, d)
    return X.reshape(bh // num_heads, n, num_heads * d)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: ``num_heads`` scaled dot-product attentions side by side."""

    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        if num_heads < 1 or num_hiddens % num_heads != 0:
            raise ValueError(
                f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads})"
            )
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        _check_qkv(queries, keys, values)
        _check_valid_lens(valid_lens, queries.shape[0], queries.shape[1])
        q = transpose_qkv(self.W_q(queries), self.num_heads)
        k = transpose_qkv(self.W_k(keys), self.num_heads)
        v = transpose_qkv(self.W_v(values), self.num_heads)
        if valid_lens is not None:
            # example i becomes rows i*num_heads .. i*num_heads + num_heads - 1
            valid_lens = torch.repeat_interleave(valid_lens, self.num_heads, dim=0)
        output = self.attention(q, k, v, valid_lens)
        return self.W_o(transpose_output(output, self.num_heads))
