"""-inf for padding keys, softmax, then rows with no valid key (NaN) replaced by 1/num_keys with
torch.where (forward exact; backward: masked_fill zeroes the NaN gradient of those rows)."""
import torch


def sequence_mask(X, valid_len, value=0.0):
    if not isinstance(X, torch.Tensor) or not isinstance(valid_len, torch.Tensor):
        raise TypeError("X and valid_len must be tensors")
    if X.dim() != 2 or valid_len.shape != (X.shape[0],):
        raise ValueError("X must be (n, maxlen), valid_len (n,)")
    j = torch.arange(X.shape[1])
    return X.masked_fill(j >= valid_len.unsqueeze(-1), value)


def masked_softmax(X, valid_lens=None):
    if not isinstance(X, torch.Tensor):
        raise TypeError("X must be a tensor")
    if X.dim() != 3:
        raise ValueError("X must be 3-D")
    if valid_lens is None:
        return X.softmax(dim=-1)
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError("valid_lens must be a tensor")
    b, nq, nk = X.shape
    if valid_lens.shape == (b,):
        lens = valid_lens.view(b, 1, 1)
    elif valid_lens.shape == (b, nq):
        lens = valid_lens.reshape(b, nq, 1)
    else:
        raise ValueError("valid_lens must be (batch,) or (batch, num_queries)")
    masked = torch.arange(nk).view(1, 1, nk) >= lens
    w = X.masked_fill(masked, float("-inf")).softmax(dim=-1)
    empty = (lens <= 0).expand_as(w)
    return torch.where(empty, torch.full_like(w, 1.0 / max(nk, 1)), w)
