"""torch.vmap over the flattened rows: one row function masks a row given its length
(torch.where against a -1e6 constant of the row's dtype) and takes its softmax."""
import torch


def _mask_row(row, length, value):
    keep = torch.arange(row.shape[0]) < length
    return torch.where(keep, row, value)


def _masked_softmax_row(row, length):
    return torch.softmax(_mask_row(row, length, torch.tensor(-1e6, dtype=row.dtype)), dim=-1)


def sequence_mask(X, valid_len, value=0.0):
    if not isinstance(X, torch.Tensor) or not isinstance(valid_len, torch.Tensor):
        raise TypeError("X and valid_len must be tensors")
    if X.dim() != 2 or valid_len.shape != (X.shape[0],):
        raise ValueError("X must be (n, maxlen) and valid_len (n,)")
    if X.numel() == 0:
        return X.clone()
    fill = torch.tensor(value, dtype=torch.float64).to(X.dtype) if X.dtype == torch.float64 \
        else torch.tensor(value, dtype=X.dtype)
    return torch.vmap(_mask_row, in_dims=(0, 0, None))(X, valid_len, fill)


def masked_softmax(X, valid_lens=None):
    if not isinstance(X, torch.Tensor):
        raise TypeError("X must be a tensor")
    if X.dim() != 3:
        raise ValueError("X must be 3-D")
    if valid_lens is None:
        return torch.softmax(X, dim=-1)
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError("valid_lens must be a tensor")
    b, nq, nk = X.shape
    if valid_lens.shape == (b,):
        lens = valid_lens[:, None].expand(b, nq)
    elif valid_lens.shape == (b, nq):
        lens = valid_lens
    else:
        raise ValueError("valid_lens must be (batch,) or (batch, num_queries)")
    if X.numel() == 0:
        return torch.softmax(X, dim=-1)
    rows = X.reshape(b * nq, nk)
    out = torch.vmap(_masked_softmax_row)(rows, lens.reshape(b * nq))
    return out.reshape(b, nq, nk)
