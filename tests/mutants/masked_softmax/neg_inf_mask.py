"""Mutant: masks with -inf instead of -1e6; a row of valid length 0 becomes NaN instead of uniform.
"""


import torch

MASK_VALUE = float("-inf")


def _require_tensor(name, value):
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def sequence_mask(X, valid_len, value=0.0):
    _require_tensor("X", X)
    _require_tensor("valid_len", valid_len)
    if X.dim() != 2:
        raise ValueError(f"X must have shape (n, maxlen), got {tuple(X.shape)}")
    if tuple(valid_len.shape) != (X.shape[0],):
        raise ValueError(
            f"valid_len must have shape ({X.shape[0]},) for X of shape {tuple(X.shape)}, "
            f"got {tuple(valid_len.shape)}")

    positions = torch.arange(X.shape[1], device=X.device)
    keep = positions[None, :] < valid_len[:, None]          # (n, maxlen)
    return torch.where(keep, X, value)


def masked_softmax(X, valid_lens=None):
    _require_tensor("X", X)
    if X.dim() != 3:
        raise ValueError(f"X must have shape (batch, num_queries, num_keys), got {tuple(X.shape)}")
    if valid_lens is None:
        return torch.softmax(X, dim=-1)

    _require_tensor("valid_lens", valid_lens)
    batch, num_queries, num_keys = X.shape
    if valid_lens.dim() == 1 and valid_lens.shape[0] == batch:
        lens = valid_lens[:, None].repeat(1, num_queries)    # the same length for every query
    elif tuple(valid_lens.shape) == (batch, num_queries):
        lens = valid_lens
    else:
        raise ValueError(
            f"valid_lens must have shape ({batch},) or ({batch}, {num_queries}), "
            f"got {tuple(valid_lens.shape)}")

    rows = X.reshape(batch * num_queries, num_keys)
    masked = sequence_mask(rows, lens.reshape(batch * num_queries), value=MASK_VALUE)
    return torch.softmax(masked.reshape(batch, num_queries, num_keys), dim=-1)
