"""Exercise 6: attention.

After *Dive into Deep Learning* (sections 11.3 "Attention Scoring Functions" and 11.5
"Multi-Head Attention"). You will build, by hand:

- scaled dot-product attention, as a function and as an ``nn.Module`` with dropout;
- additive (Bahdanau) attention;
- the reshapes that split hidden units into heads and join them again;
- multi-head attention on top of all of these.

``masked_softmax`` below is given to you (it is the previous exercise, written the book's way):
use it, or your own, as you like.

Shapes: ``batch`` examples, ``nq`` queries and ``nk`` key-value pairs each. Queries and keys have
``d`` features, values ``dv``. Tensors may be float32 or float64 and contiguous or not (e.g.
transposed); results keep the input dtype. Never modify an input in place.

Forbidden (using one scores 0 for the function that uses it): ``F.scaled_dot_product_attention``,
``torch.nn.MultiheadAttention`` and ``F.multi_head_attention_forward``. Everything else in
PyTorch is allowed: ``torch.bmm``, ``@``, ``torch.softmax``, ``nn.Linear``, ``nn.Dropout``,
``torch.repeat_interleave``, ...
"""

import math  # noqa: F401 - you will probably want math.sqrt

import torch
from torch import nn


def masked_softmax(X, valid_lens=None):
    """Softmax over the last axis of ``X`` (batch, nq, nk), ignoring keys past the valid length.

    Provided for you (it is exercise 5). ``valid_lens`` is None (plain softmax), a tensor of
    shape (batch,) (one length for all queries of an example) or (batch, nq) (one per query), of
    ints or floats. Scores of keys ``j >= valid_len`` are replaced by -1e6 before the softmax, so
    they get weight 0, and a row whose valid length is 0 comes out uniform (1 / nk).

    >>> masked_softmax(torch.zeros(1, 2, 4), torch.tensor([[2, 0]]))
    tensor([[[0.5000, 0.5000, 0.0000, 0.0000],
             [0.2500, 0.2500, 0.2500, 0.2500]]])
    """
    if valid_lens is None:
        return torch.softmax(X, dim=-1)
    lens = valid_lens[:, None, None] if valid_lens.dim() == 1 else valid_lens[:, :, None]
    keep = torch.arange(X.shape[-1], device=X.device) < lens
    X = torch.where(keep, X, torch.full((), -1e6, dtype=X.dtype, device=X.device))
    return torch.softmax(X, dim=-1)


def dot_product_attention(queries, keys, values, valid_lens=None):
    """Scaled dot-product attention. Returns ``(output, weights)``.

    Args:
        queries: (batch, nq, d) float tensor.
        keys: (batch, nk, d) tensor of the same dtype.
        values: (batch, nk, dv) tensor of the same dtype.
        valid_lens: None, or (batch,) or (batch, nq) ints or floats, as in ``masked_softmax``:
            key ``j`` is used by a query only if ``j < valid_len``. A valid length of 0 gives
            uniform weights; one of ``nk`` or more masks nothing.

    Returns:
        output: (batch, nq, dv), ``weights @ values``.
        weights: (batch, nq, nk), ``masked_softmax(queries @ keys^T / sqrt(d), valid_lens)``;
            each row sums to 1.

    Both keep the input dtype; gradients flow back to queries, keys and values. Empty batches
    (batch = 0) and nq = 0 give empty results of the right shape.

    Example:
        >>> q = torch.tensor([[[1.0, 0.0]]])                 # batch 1, nq 1, d 2
        >>> k = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])     # nk 2
        >>> v = torch.tensor([[[10.0], [20.0]]])             # dv 1
        >>> out, w = dot_product_attention(q, k, v)
        >>> w       # softmax([1, 0] / sqrt(2))
        tensor([[[0.6698, 0.3302]]])
        >>> out
        tensor([[[13.3024]]])
        >>> dot_product_attention(q, k, v, torch.tensor([1]))[0]   # only the first key
        tensor([[[10.]]])
    """
    raise NotImplementedError("dot_product_attention: compute the scores, mask and weight the values")


class DotProductAttention(nn.Module):
    """Scaled dot-product attention as a module, with dropout on the attention weights.

    ``DotProductAttention(dropout=0.0)``. ``forward(queries, keys, values, valid_lens=None)``
    takes the same arguments as ``dot_product_attention`` and returns only the output
    (batch, nq, dv). It keeps the (pre-dropout) weights in ``self.attention_weights``
    (batch, nq, nk).

    In training mode (``module.train()``, the default) the weights go through dropout before
    they multiply the values: each weight is zeroed with probability ``dropout`` and the others
    are scaled by ``1 / (1 - dropout)``, as ``nn.Dropout`` does. In eval mode (``module.eval()``)
    there is no dropout and the output equals ``dot_product_attention(...)[0]``.

    The module has no parameters (its ``state_dict()`` is empty).

    Example:
        >>> attn = DotProductAttention(dropout=0.5).eval()
        >>> q = torch.tensor([[[1.0, 0.0]]]); k = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> attn(q, k, torch.tensor([[[10.0], [20.0]]]))
        tensor([[[13.3024]]])
        >>> attn.attention_weights
        tensor([[[0.6698, 0.3302]]])
    """

    def __init__(self, dropout=0.0):
        super().__init__()
        raise NotImplementedError("DotProductAttention.__init__")

    def forward(self, queries, keys, values, valid_lens=None):
        raise NotImplementedError("DotProductAttention.forward")


class AdditiveAttention(nn.Module):
    """Additive attention: the score of query q and key k is ``w_v(tanh(W_q q + W_k k))``.

    ``AdditiveAttention(key_size, query_size, num_hiddens, dropout=0.0)`` has exactly these
    layers (the grader loads its own weights into them, so names and shapes matter):

    - ``self.W_k = nn.Linear(key_size, num_hiddens, bias=False)``
    - ``self.W_q = nn.Linear(query_size, num_hiddens, bias=False)``
    - ``self.w_v = nn.Linear(num_hiddens, 1, bias=False)``

    so ``state_dict()`` has the keys ``W_k.weight``, ``W_q.weight`` and ``w_v.weight``.

    ``forward(queries, keys, values, valid_lens=None)``: queries (batch, nq, query_size), keys
    (batch, nk, key_size), values (batch, nk, dv), valid_lens as in ``masked_softmax``. Scores
    are (batch, nq, nk): broadcast the projected queries (batch, nq, 1, h) against the projected
    keys (batch, 1, nk, h). Returns the output (batch, nq, dv) and keeps the masked-softmax
    weights in ``self.attention_weights``; dropout acts on the weights in training mode exactly as
    in ``DotProductAttention``. Careful with batch = 1 or nq = 1.

    Example:
        >>> attn = AdditiveAttention(key_size=2, query_size=3, num_hiddens=4).eval()
        >>> q, k, v = torch.ones(1, 1, 3), torch.ones(1, 2, 2), torch.tensor([[[1.0], [3.0]]])
        >>> attn(q, k, v)                 # both keys are equal: weights [0.5, 0.5]
        tensor([[[2.]]], grad_fn=...)
        >>> attn(q, k, v, torch.tensor([1]))
        tensor([[[1.]]], grad_fn=...)
    """

    def __init__(self, key_size, query_size, num_hiddens, dropout=0.0):
        super().__init__()
        raise NotImplementedError("AdditiveAttention.__init__")

    def forward(self, queries, keys, values, valid_lens=None):
        raise NotImplementedError("AdditiveAttention.forward")


def transpose_qkv(X, num_heads):
    """Split the hidden units into heads: (batch, n, num_hiddens) -> (batch * num_heads, n, h).

    ``h = num_hiddens // num_heads``. As in the book, head ``i`` gets the hidden units
    ``i * h, ..., (i + 1) * h - 1``, and row ``b * num_heads + i`` of the result is head ``i`` of
    example ``b``. Raises ``ValueError`` if ``num_hiddens`` is not divisible by ``num_heads``.

    Example:
        >>> X = torch.arange(8.0).reshape(1, 2, 4)     # batch 1, n 2, num_hiddens 4
        >>> transpose_qkv(X, 2)                         # 2 heads of 2 units
        tensor([[[0., 1.],
                 [4., 5.]],
        <BLANKLINE>
                [[2., 3.],
                 [6., 7.]]])
    """
    raise NotImplementedError("transpose_qkv")


def transpose_output(X, num_heads):
    """Undo ``transpose_qkv``: (batch * num_heads, n, h) -> (batch, n, num_heads * h).

    ``transpose_output(transpose_qkv(X, k), k)`` equals ``X``. Raises ``ValueError`` if the first
    dimension is not divisible by ``num_heads``.

    Example:
        >>> Y = torch.tensor([[[0., 1.], [4., 5.]], [[2., 3.], [6., 7.]]])
        >>> transpose_output(Y, 2)
        tensor([[[0., 1., 2., 3.],
                 [4., 5., 6., 7.]]])
    """
    raise NotImplementedError("transpose_output")


class MultiHeadAttention(nn.Module):
    """Multi-head attention: ``num_heads`` scaled dot-product attentions side by side.

    ``MultiHeadAttention(key_size, query_size, value_size, num_hiddens, num_heads, dropout=0.0,
    bias=False)`` has exactly these attributes:

    - ``self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)``
    - ``self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)``
    - ``self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)``
    - ``self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)``
    - ``self.attention = DotProductAttention(dropout)``

    so ``state_dict()`` has ``W_q.weight``, ``W_k.weight``, ``W_v.weight``, ``W_o.weight`` (and
    the four ``.bias`` when ``bias=True``). Raises ``ValueError`` if ``num_hiddens`` is not
    divisible by ``num_heads``.

    ``forward(queries, keys, values, valid_lens=None)``: queries (batch, nq, query_size), keys
    (batch, nk, key_size), values (batch, nk, value_size). Project with W_q, W_k, W_v, split into
    heads with ``transpose_qkv``, run ``self.attention`` (the valid lengths apply to every head:
    repeat each example's lengths ``num_heads`` times, ``torch.repeat_interleave``), join the
    heads with ``transpose_output`` and project with W_o. Returns (batch, nq, num_hiddens);
    ``self.attention.attention_weights`` is then (batch * num_heads, nq, nk).

    Example:
        >>> mha = MultiHeadAttention(5, 3, 4, num_hiddens=8, num_heads=2).eval()
        >>> out = mha(torch.randn(2, 6, 3), torch.randn(2, 7, 5), torch.randn(2, 7, 4),
        ...           torch.tensor([3, 7]))
        >>> out.shape, mha.attention.attention_weights.shape
        (torch.Size([2, 6, 8]), torch.Size([4, 6, 7]))
        >>> MultiHeadAttention(5, 3, 4, num_hiddens=10, num_heads=4)
        Traceback (most recent call last):
        ValueError: num_hiddens (10) must be divisible by num_heads (4)
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads,
                 dropout=0.0, bias=False):
        super().__init__()
        raise NotImplementedError("MultiHeadAttention.__init__")

    def forward(self, queries, keys, values, valid_lens=None):
        raise NotImplementedError("MultiHeadAttention.forward")
