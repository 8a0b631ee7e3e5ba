"""Mutant: no argument checks at all (like the book): wrong shapes give RuntimeErrors, a 2-D X with no lengths is silently accepted.
"""


import torch

MASK_VALUE = -1e6


def _require_tensor(name, value):
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def sequence_mask(X, valid_len, value=0.0):

    positions = torch.arange(X.shape[1], device=X.device)
    keep = positions[None, :] < valid_len[:, None]          # (n, maxlen)
    return torch.where(keep, X, value)


def masked_softmax(X, valid_lens=None):
    if valid_lens is None:
        return torch.softmax(X, dim=-1)

    batch, num_queries, num_keys = X.shape
    if valid_lens.dim() == 1:
        lens = valid_lens[:, None].repeat(1, num_queries)    # the same length for every query
    else:
        lens = valid_lens

    rows = X.reshape(batch * num_queries, num_keys)
    masked = sequence_mask(rows, lens.reshape(batch * num_queries), value=MASK_VALUE)
    return torch.softmax(masked.reshape(batch, num_queries, num_keys), dim=-1)
