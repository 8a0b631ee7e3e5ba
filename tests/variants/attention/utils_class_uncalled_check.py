"""Variant (Java habit; red team: a false failure, 0 of 20): the helpers live as static methods of a
`utils` namespace class: `utils.mask_scores`, `utils.check_qkv`, ... Every contract name calls some
of them. The same class also keeps `utils.compare_with_torch`, a notebook check against
nn.MultiheadAttention that no contract function calls (it is only run by hand). The attention itself
is the book's."""
import math

import torch
from torch import nn


class utils:
    NEG = -1e6

    @staticmethod
    def check_qkv(queries, keys, values):
        for name, t in (("queries", queries), ("keys", keys), ("values", values)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name} must be a tensor")
            if t.dim() != 3:
                raise ValueError(f"{name} must be 3-D")
        if keys.shape[1] != values.shape[1]:
            raise ValueError("keys and values must have the same length")

    @staticmethod
    def mask_scores(scores, valid_lens):
        if valid_lens is None:
            return scores
        b, nq, nk = scores.shape
        if valid_lens.dim() == 1 and valid_lens.shape[0] == b:
            lens = valid_lens[:, None, None]
        elif tuple(valid_lens.shape) == (b, nq):
            lens = valid_lens[:, :, None]
        else:
            raise ValueError("valid_lens must be (batch,) or (batch, num_queries)")
        keep = torch.arange(nk, device=scores.device) < lens
        return torch.where(keep, scores, torch.tensor(utils.NEG, dtype=scores.dtype))

    @staticmethod
    def masked_softmax(scores, valid_lens):
        return torch.softmax(utils.mask_scores(scores, valid_lens), dim=-1)

    @staticmethod
    def check_heads(size, num_heads, what="num_hiddens"):
        if num_heads < 1 or size % num_heads:
            raise ValueError(f"{what} ({size}) must be divisible by num_heads ({num_heads})")

    @staticmethod
    def compare_with_torch(mha, queries, keys, values):
        """Run by hand in my notebook: my MultiHeadAttention against PyTorch's."""
        ref = nn.MultiheadAttention(mha.W_q.out_features, mha.num_heads, batch_first=True)
        return ref, mha(queries, keys, values)


def dot_product_attention(queries, keys, values, valid_lens=None):
    utils.check_qkv(queries, keys, values)
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError("queries and keys must have the same feature size")
    scores = queries @ keys.transpose(1, 2) / math.sqrt(queries.shape[-1])
    weights = utils.masked_softmax(scores, valid_lens)
    return weights @ values, weights


class DotProductAttention(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        _, self.attention_weights = dot_product_attention(queries, keys, values, valid_lens)
        return self.dropout(self.attention_weights) @ values


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        utils.check_qkv(queries, keys, values)
        features = torch.tanh(self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = utils.masked_softmax(scores, valid_lens)
        return self.dropout(self.attention_weights) @ values


def transpose_qkv(X, num_heads):
    utils.check_heads(X.shape[2], num_heads)
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1).permute(0, 2, 1, 3)
    return X.reshape(-1, X.shape[2], X.shape[3])


def transpose_output(X, num_heads):
    utils.check_heads(X.shape[0], num_heads, "the first dimension")
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
    return X.reshape(X.shape[0], X.shape[1], -1)


class MultiHeadAttention(nn.Module):
    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout=0.0, bias=False):
        super().__init__()
        utils.check_heads(num_hiddens, num_heads)
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        utils.check_qkv(queries, keys, values)
        q = transpose_qkv(self.W_q(queries), self.num_heads)
        k = transpose_qkv(self.W_k(keys), self.num_heads)
        v = transpose_qkv(self.W_v(values), self.num_heads)
        if valid_lens is not None:
            valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
        out = self.attention(q, k, v, valid_lens)
        return self.W_o(transpose_output(out, self.num_heads))
