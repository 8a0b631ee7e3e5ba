"""Variant: a lenient reading that also accepts Python lists and (batch, 1) lengths (the
contract neither requires nor forbids that), builds sequence_mask's rows from a generator,
and writes the softmax with torch.logsumexp after shifting by the row maximum (without the
shift, float32 rows of -1e6 lose ~1% to rounding). Correct: must get full marks."""

import torch


def _rows(X, valid_len, value):
    positions = torch.arange(X.shape[1])
    for row, length in zip(X, valid_len):
        yield torch.where(positions < length, row, torch.tensor(value, dtype=X.dtype))


def sequence_mask(X, valid_len, value=0.0):
    if not isinstance(X, torch.Tensor):
        raise TypeError("X must be a tensor")
    valid_len = torch.as_tensor(valid_len)
    if X.dim() != 2 or valid_len.shape != X.shape[:1]:
        raise ValueError("X must be (n, maxlen) and valid_len (n,)")
    if X.shape[0] == 0:
        return X.clone()
    return torch.stack(list(_rows(X, valid_len, value)))


def masked_softmax(X, valid_lens=None):
    if not isinstance(X, torch.Tensor):
        raise TypeError("X must be a tensor")
    if X.dim() != 3:
        raise ValueError("X must be (batch, num_queries, num_keys)")
    batch, nq, nk = X.shape
    if valid_lens is not None:
        valid_lens = torch.as_tensor(valid_lens)
        if valid_lens.shape == (batch,) or valid_lens.shape == (batch, 1):
            valid_lens = valid_lens.reshape(batch, 1) * torch.ones(1, nq, dtype=valid_lens.dtype)
        elif valid_lens.shape != (batch, nq):
            raise ValueError("valid_lens must be (batch,) or (batch, num_queries)")
        X = sequence_mask(X.reshape(batch * nq, nk), valid_lens.reshape(-1), value=-1e6)
        X = X.reshape(batch, nq, nk)
    if X.numel() == 0:
        return X.clone()
    X = X - X.max(dim=-1, keepdim=True).values
    return torch.exp(X - torch.logsumexp(X, dim=-1, keepdim=True))
