"""Variant: works on the 3-D scores directly (a broadcast (batch, num_queries, num_keys) mask,
no reshape), computes in float64 and casts the result back to X's dtype; masked_fill (the
out-of-place one). Correct: must get full marks."""

import torch


def sequence_mask(X, valid_len, value=0.0):
    if not torch.is_tensor(X) or not torch.is_tensor(valid_len):
        raise TypeError("X and valid_len must be tensors")
    if X.ndim != 2 or valid_len.ndim != 1 or valid_len.numel() != X.shape[0]:
        raise ValueError(f"bad shapes: X {tuple(X.shape)}, valid_len {tuple(valid_len.shape)}")
    j = torch.arange(X.shape[1], dtype=torch.float64)
    masked = (j.unsqueeze(0) >= valid_len.to(torch.float64).unsqueeze(1))
    return X.masked_fill(masked, value)


def masked_softmax(X, valid_lens=None):
    if not torch.is_tensor(X):
        raise TypeError("X must be a tensor")
    if X.ndim != 3:
        raise ValueError("X must be 3-D")
    b, nq, nk = X.shape
    x = X.to(torch.float64)
    if valid_lens is not None:
        if not torch.is_tensor(valid_lens):
            raise TypeError("valid_lens must be a tensor or None")
        if tuple(valid_lens.shape) == (b,):
            lens = valid_lens.to(torch.float64).view(b, 1, 1)
        elif tuple(valid_lens.shape) == (b, nq):
            lens = valid_lens.to(torch.float64).unsqueeze(-1)
        else:
            raise ValueError("valid_lens must be (batch,) or (batch, num_queries)")
        keys = torch.arange(nk, dtype=torch.float64).view(1, 1, nk)
        x = x.masked_fill(keys >= lens, -1e6)
    return torch.softmax(x, dim=-1).to(X.dtype)
