"""Variant: Python loops over rows, a softmax over the valid prefix only, padding weights
written as zeros, and rows of valid length 0 built as constants 1/num_keys. Errors are a
ValueError subclass. Correct: must get full marks."""

import torch


class ShapeError(ValueError):
    pass


def _tensor(name, v):
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, not {type(v).__name__}")


def sequence_mask(X, valid_len, value=0.0):
    _tensor("X", X)
    _tensor("valid_len", valid_len)
    if len(X.shape) != 2:
        raise ShapeError("X must be 2-D")
    if len(valid_len.shape) != 1 or valid_len.shape[0] != X.shape[0]:
        raise ShapeError("valid_len must have one entry per row of X")
    out = X.clone()
    n, maxlen = X.shape
    for i in range(n):
        length = valid_len[i].item()
        for j in range(maxlen):
            if not j < length:
                out[i, j] = value
    return out


def _row_softmax(row, length):
    num_keys = row.shape[0]
    if length <= 0:
        return torch.full((num_keys,), 1.0 / num_keys, dtype=row.dtype)
    k = min(int(length), num_keys)
    head = torch.softmax(row[:k], dim=0)
    return torch.cat([head, torch.zeros(num_keys - k, dtype=row.dtype)])


def masked_softmax(X, valid_lens=None):
    _tensor("X", X)
    if X.dim() != 3:
        raise ShapeError("X must be (batch, num_queries, num_keys)")
    batch, num_queries, num_keys = X.shape
    if valid_lens is not None:
        _tensor("valid_lens", valid_lens)
        if valid_lens.shape not in (torch.Size([batch]), torch.Size([batch, num_queries])):
            raise ShapeError("valid_lens must be (batch,) or (batch, num_queries)")
    if valid_lens is None:
        return torch.softmax(X, dim=-1)
    if batch == 0 or num_queries == 0 or num_keys == 0:
        return torch.softmax(X, dim=-1)            # empty: nothing to mask
    rows = []
    for b in range(batch):
        queries = []
        for q in range(num_queries):
            length = valid_lens[b] if valid_lens.dim() == 1 else valid_lens[b, q]
            queries.append(_row_softmax(X[b, q], length.item()))
        rows.append(torch.stack(queries))
    return torch.stack(rows)
