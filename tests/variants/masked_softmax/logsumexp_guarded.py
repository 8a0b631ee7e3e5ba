"""Variant: softmax as exp(x - logsumexp(x)) with NO max shift (the formula CONTRACT.md names as
allowed; near scores of 1e4 in float32 it is off by ~1e-3 relative, which the contract accepts),
with rows of valid length 0 set to zeros first so they are exactly uniform. Correct: must get
full marks."""

import torch


def sequence_mask(X, valid_len, value=0.0):
    if not isinstance(X, torch.Tensor) or not isinstance(valid_len, torch.Tensor):
        raise TypeError("X and valid_len must be tensors")
    if X.dim() != 2 or valid_len.dim() != 1 or len(valid_len) != len(X):
        raise ValueError("X must be (n, maxlen) and valid_len (n,)")
    keep = torch.arange(X.shape[1]).unsqueeze(0) < valid_len.unsqueeze(1)
    return X.masked_fill(~keep, value)


def _softmax(s):
    return torch.exp(s - torch.logsumexp(s, dim=-1, keepdim=True))


def masked_softmax(X, valid_lens=None):
    if not isinstance(X, torch.Tensor):
        raise TypeError("X must be a tensor")
    if X.dim() != 3:
        raise ValueError("X must be (batch, num_queries, num_keys)")
    if valid_lens is None:
        return _softmax(X)
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError("valid_lens must be a tensor")
    b, q, k = X.shape
    if valid_lens.shape == (b,):
        lens = valid_lens.unsqueeze(1).expand(b, q)
    elif valid_lens.shape == (b, q):
        lens = valid_lens
    else:
        raise ValueError("valid_lens must be (batch,) or (batch, num_queries)")
    lens = lens.reshape(b, q, 1)
    scores = torch.where(torch.arange(k).reshape(1, 1, k) < lens, X, -1e6)
    scores = torch.where(lens <= 0, torch.zeros_like(scores), scores)
    return _softmax(scores)
