"""Reference for the masked_softmax exercise: the judge of the hidden suite.

Built the way *Dive into Deep Learning* (section 11.3) builds it, on PyTorch's own functions
(`torch.arange`, `torch.repeat_interleave`, `torch.nn.functional.softmax`), with two changes the
contract asks for: the input is copied instead of being masked in place, and arguments are
validated before any work is done.
"""

import torch
import torch.nn.functional as F

MASK_VALUE = -1e6


def _check_tensor(name, value):
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def _check_lengths_dtype(name, lengths):
    if lengths.dtype == torch.bool or lengths.is_complex():
        raise TypeError(f"{name} must hold integers or floats, got dtype {lengths.dtype}")


def sequence_mask(X, valid_len, value=0.0):
    """A copy of ``X`` (n, maxlen) with ``value`` wherever ``j >= valid_len[i]``."""
    _check_tensor("X", X)
    _check_tensor("valid_len", valid_len)
    if X.dim() != 2:
        raise ValueError(f"X must be 2-D (n, maxlen), got shape {tuple(X.shape)}")
    _check_lengths_dtype("valid_len", valid_len)
    if valid_len.dim() != 1 or valid_len.shape[0] != X.shape[0]:
        raise ValueError(
            f"valid_len must have shape ({X.shape[0]},) to match X of shape {tuple(X.shape)}, "
            f"got {tuple(valid_len.shape)}")
    maxlen = X.size(1)
    mask = torch.arange(maxlen, dtype=torch.float32, device=X.device)[None, :] < valid_len[:, None]
    X = X.clone()
    X[~mask] = value
    return X


def masked_softmax(X, valid_lens=None):
    """Softmax over the last axis of ``X`` (batch, num_queries, num_keys), keys past the valid
    length masked with -1e6 first (the book's ``masked_softmax``)."""
    _check_tensor("X", X)
    if X.dim() != 3:
        raise ValueError(
            f"X must be 3-D (batch, num_queries, num_keys), got shape {tuple(X.shape)}")
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    _check_tensor("valid_lens", valid_lens)
    _check_lengths_dtype("valid_lens", valid_lens)
    batch, num_queries, num_keys = X.shape
    if valid_lens.shape not in ((batch,), (batch, num_queries)):
        raise ValueError(
            f"valid_lens must have shape ({batch},) or ({batch}, {num_queries}) for X of shape "
            f"{tuple(X.shape)}, got {tuple(valid_lens.shape)}")
    if valid_lens.dim() == 1:
        valid_lens = torch.repeat_interleave(valid_lens, num_queries)
    else:
        valid_lens = valid_lens.reshape(-1)
    # An explicit row count: reshape(-1, 0) is ambiguous when num_keys == 0.
    rows = sequence_mask(X.reshape(batch * num_queries, num_keys), valid_lens, value=MASK_VALUE)
    return F.softmax(rows.reshape(batch, num_queries, num_keys), dim=-1)
