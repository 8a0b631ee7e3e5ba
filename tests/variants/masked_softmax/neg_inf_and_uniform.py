"""Variant: the 'weight 0' reading. Masked keys get -inf, rows with nothing valid are replaced
by zeros before the softmax (so they come out uniform, with no NaN in the forward or backward
pass), and the softmax is written by hand (x - max, exp, normalise). Lengths go through
repeat_interleave like the book. Correct: must get full marks."""

import torch


def _check(X, name, dim):
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor")
    if X.dim() != dim:
        raise ValueError(f"{name} must have {dim} dimensions, got {X.dim()}")


def sequence_mask(X, valid_len, value=0.0):
    _check(X, "X", 2)
    if not isinstance(valid_len, torch.Tensor):
        raise TypeError("valid_len must be a torch.Tensor")
    if valid_len.shape != (X.shape[0],):
        raise ValueError("valid_len must have shape (n,)")
    keep = torch.arange(X.shape[1])[None, :] < valid_len[:, None]
    fill = torch.full_like(X, value)
    return torch.where(keep, X, fill)


def _softmax(x):
    if x.numel() == 0:
        return x.clone()
    shifted = x - x.max(dim=-1, keepdim=True).values
    e = shifted.exp()
    return e / e.sum(dim=-1, keepdim=True)


def masked_softmax(X, valid_lens=None):
    _check(X, "X", 3)
    if valid_lens is None:
        return _softmax(X)
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError("valid_lens must be a torch.Tensor")
    batch, nq, nk = X.shape
    if valid_lens.dim() == 1 and valid_lens.shape[0] == batch:
        lens = torch.repeat_interleave(valid_lens, nq)
    elif valid_lens.shape == (batch, nq):
        lens = valid_lens.reshape(-1)
    else:
        raise ValueError("valid_lens must be (batch,) or (batch, num_queries)")
    rows = X.reshape(batch * nq, nk)
    scores = sequence_mask(rows, lens, value=float("-inf"))
    empty = (lens <= 0)[:, None]
    scores = torch.where(empty, torch.zeros_like(scores), scores)
    return _softmax(scores).reshape(batch, nq, nk)
