"""Variant (red team: a false failure, 0 of 20): the argument checks and the key-position mask are
static methods of a small `_Lengths` helper class; the class also has `benchmark`, which times
masked_softmax with timeit on a statement string, run by hand in the notebook only (no contract
function calls it). The masking itself is the book's: torch.where against -1e6, then torch.softmax."""
import timeit

import torch


class _Lengths:
    @staticmethod
    def require_tensor(name, value):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")

    @staticmethod
    def keep(lengths, n_positions, device):
        """Boolean (*lengths.shape, n_positions): True where position < length."""
        return torch.arange(n_positions, device=device) < lengths.unsqueeze(-1)

    @staticmethod
    def benchmark(number=100):
        X, lens = torch.randn(64, 32, 50), torch.randint(0, 50, (64,))
        return timeit.timeit("masked_softmax(X, lens)", number=number,
                             globals={"masked_softmax": masked_softmax, "X": X, "lens": lens})


def sequence_mask(X, valid_len, value=0.0):
    _Lengths.require_tensor("X", X)
    _Lengths.require_tensor("valid_len", valid_len)
    if X.dim() != 2:
        raise ValueError(f"X must be (n, maxlen), got {tuple(X.shape)}")
    if tuple(valid_len.shape) != (X.shape[0],):
        raise ValueError(f"valid_len must be ({X.shape[0]},), got {tuple(valid_len.shape)}")
    return torch.where(_Lengths.keep(valid_len, X.shape[1], X.device), X, value)


def masked_softmax(X, valid_lens=None):
    _Lengths.require_tensor("X", X)
    if X.dim() != 3:
        raise ValueError(f"X must be (batch, num_queries, num_keys), got {tuple(X.shape)}")
    if valid_lens is None:
        return torch.softmax(X, dim=-1)
    _Lengths.require_tensor("valid_lens", valid_lens)
    b, nq, nk = X.shape
    if valid_lens.dim() == 1 and valid_lens.shape[0] == b:
        keep = _Lengths.keep(valid_lens, nk, X.device).unsqueeze(1)
    elif tuple(valid_lens.shape) == (b, nq):
        keep = _Lengths.keep(valid_lens, nk, X.device)
    else:
        raise ValueError(f"valid_lens must be ({b},) or ({b}, {nq}), got {tuple(valid_lens.shape)}")
    return torch.softmax(torch.where(keep, X, torch.full((), -1e6, dtype=X.dtype)), dim=-1)
