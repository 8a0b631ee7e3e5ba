"""Variant (red team, round of false failures): the mask marks where each row STOPS: a 1 is scattered
at column ceil(valid_len) (clamped to maxlen) of an (n, maxlen + 1) zero matrix and a cumulative sum
turns it into "at or past the end". masked_softmax flattens to rows, fills with masked_fill, and
uses nn.functional.softmax."""
import torch
import torch.nn.functional as F


def _stop_marks(valid_len, n, maxlen, device):
    # first masked column of each row: ceil(valid_len), at most maxlen (j < L  <=>  j < ceil(L))
    if valid_len.is_floating_point():
        first = torch.clamp(torch.ceil(valid_len.double()), min=0, max=maxlen).long()
    else:
        first = torch.clamp(valid_len.long(), min=0, max=maxlen)
    marks = torch.zeros(n, maxlen + 1, dtype=torch.int64, device=device)
    marks.scatter_(1, first.reshape(n, 1), 1)
    return marks.cumsum(dim=1)[:, :maxlen].bool()          # True where j >= valid_len


def sequence_mask(X, valid_len, value=0.0):
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a tensor, got {type(X).__name__}")
    if not isinstance(valid_len, torch.Tensor):
        raise TypeError(f"valid_len must be a tensor, got {type(valid_len).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got {X.ndim}-D")
    if valid_len.ndim != 1 or valid_len.shape[0] != X.shape[0]:
        raise ValueError(f"valid_len must have shape ({X.shape[0]},), got {tuple(valid_len.shape)}")
    n, maxlen = X.shape
    masked = _stop_marks(valid_len, n, maxlen, X.device)
    return X.masked_fill(masked, value)


def masked_softmax(X, valid_lens=None):
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a tensor, got {type(X).__name__}")
    if X.ndim != 3:
        raise ValueError(f"X must be (batch, num_queries, num_keys), got {tuple(X.shape)}")
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError("valid_lens must be a tensor or None")
    b, q, k = X.shape
    if valid_lens.shape == (b,):
        per_row = valid_lens.repeat_interleave(q)
    elif valid_lens.shape == (b, q):
        per_row = valid_lens.reshape(-1)
    else:
        raise ValueError(f"valid_lens must be ({b},) or ({b}, {q}), got {tuple(valid_lens.shape)}")
    rows = sequence_mask(X.reshape(b * q, k), per_row, value=-1e6)
    return F.softmax(rows.reshape(b, q, k), dim=-1)
