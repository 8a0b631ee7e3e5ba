"""Exercise 5: masked softmax.

Attention (next exercise) turns scores into weights with a softmax over the keys. Sequences in a
minibatch are padded to a common length, and the padding keys must get no weight at all. Here you
write the two helpers that do this, after *Dive into Deep Learning*, section 11.3 ("Attention
Scoring Functions"):

* ``sequence_mask`` replaces every entry past a row's valid length with a fixed value;
* ``masked_softmax`` uses it to replace the scores of padding keys with -1e6 before a softmax
  over the last axis, so those keys get weight 0.

Rules that hold for every function of this course:

* never modify an input in place (the book's ``sequence_mask`` does ``X[~mask] = value``: make a
  new tensor instead);
* inputs may be float32 or float64, contiguous or not (transposed or sliced); the result keeps
  the dtype (and device) of ``X``;
* invalid arguments raise ``ValueError`` (``TypeError`` for a wrong type) with a message that says
  what was wrong, before any work is done.

Forbidden calls: none in this exercise. ``torch.softmax`` and ``torch.nn.functional.softmax`` are
allowed: the exercise is the mask. Check your work with ``autograder check``.
"""

import torch


def sequence_mask(X, valid_len, value=0.0):
    """Keep the first ``valid_len[i]`` entries of each row of ``X``, replace the rest by ``value``.

    Args:
        X: tensor of shape ``(n, maxlen)``, float32 or float64, contiguous or not. It must not be
            modified.
        valid_len: tensor of shape ``(n,)``, integer (int64, int32, ...) or float dtype: the
            number of entries of row ``i`` to keep. A length of 0 keeps nothing; a length of
            ``maxlen`` or more keeps the whole row.
        value: the number written at the masked positions (default ``0.0``).

    Returns:
        A NEW tensor (never ``X`` itself, never a view of it) of shape ``(n, maxlen)`` and the
        dtype of ``X``, equal to ``X[i, j]`` where ``j < valid_len[i]`` and to ``value`` elsewhere.
        ``n`` or ``maxlen`` may be 0.

    Raises:
        TypeError: if ``X`` or ``valid_len`` is not a ``torch.Tensor``.
        ValueError: if ``X`` is not 2-D, or ``valid_len`` is not of shape ``(n,)``.

    Example:
        >>> X = torch.tensor([[1., 2., 3.],
        ...                   [4., 5., 6.]])
        >>> sequence_mask(X, torch.tensor([1, 2]))
        tensor([[1., 0., 0.],
                [4., 5., 0.]])
        >>> sequence_mask(X, torch.tensor([0, 5]), value=-1.0)
        tensor([[-1., -1., -1.],
                [ 4.,  5.,  6.]])
    """
    raise NotImplementedError("sequence_mask is not implemented yet")


def masked_softmax(X, valid_lens=None):
    """Softmax over the last axis of ``X``, giving weight 0 to keys past the valid length.

    Args:
        X: scores of shape ``(batch, num_queries, num_keys)``, float32 or float64, contiguous or
            not. It must not be modified.
        valid_lens: one of
            * ``None``: no mask, a plain softmax over the last axis;
            * a tensor of shape ``(batch,)``: one valid length per example, shared by all of its
              queries;
            * a tensor of shape ``(batch, num_queries)``: one valid length per query.
            Integer or float dtype.

    Returns:
        A tensor of the shape and dtype of ``X``. Key ``k`` of query ``q`` in example ``b`` gets
        weight 0 when ``k >= valid length``. As in the book, the masked scores are REPLACED by
        -1e6 before the softmax, so a row whose valid length is 0 comes out uniform
        (every weight ``1 / num_keys``), and a valid length above ``num_keys`` masks nothing.
        Gradients with respect to ``X`` must flow through your function (use tensor operations,
        do not detach). Any dimension may be 0.

    Raises:
        TypeError: if ``X`` (or a ``valid_lens`` that is not None) is not a ``torch.Tensor``.
        ValueError: if ``X`` is not 3-D, or ``valid_lens`` is neither ``(batch,)`` nor
            ``(batch, num_queries)``.

    Example:
        >>> X = torch.tensor([[[1., 2., 3.]],
        ...                   [[1., 1., 1.]]])          # batch 2, 1 query, 3 keys
        >>> masked_softmax(X, torch.tensor([2, 0]))
        tensor([[[0.2689, 0.7311, 0.0000]],
                [[0.3333, 0.3333, 0.3333]]])
        >>> masked_softmax(torch.zeros(1, 2, 4), torch.tensor([[1, 3]]))   # one length per query
        tensor([[[1.0000, 0.0000, 0.0000, 0.0000],
                 [0.3333, 0.3333, 0.3333, 0.0000]]])
    """
    raise NotImplementedError("masked_softmax is not implemented yet")
