"""Exercise 4: softmax, binary cross-entropy and cross-entropy, by hand.

After *Dive into Deep Learning*, sections 4.1 (softmax regression), 4.4 (softmax regression
implementation from scratch) and the "Softmax Revisited" discussion in 4.5: you will write the
softmax and the losses every classifier is trained with, and make them *numerically stable*.
Done naively, ``exp(1000.0)`` overflows to ``inf`` and ``log(0.0)`` is ``-inf``; done well, the
same formulas stay finite for logits as large as 1e4, even in float32.

Things to know for every function here:

* Inputs may be float32 or float64, contiguous or not (transposed, sliced). The result has the
  dtype of the input (do not return float64 for float32 inputs).
* Never modify an input in place (no ``x -= ...`` on an argument): build new tensors.
* Build results from tensor operations on the inputs, so that autograd can differentiate
  through your code (the grader checks gradients at ordinary points). No ``.item()`` /
  ``torch.tensor(...)`` to assemble a loss.
* ``reduction`` is ``"none"`` (one loss per element), ``"mean"`` or ``"sum"``; anything else is a
  ``ValueError``. Invalid arguments raise ``ValueError`` (``TypeError`` for a wrong type) with a
  message saying what was wrong, before any work is done.

Forbidden (using one scores 0 for the function that uses it): ``torch.softmax``,
``torch.log_softmax``, ``Tensor.softmax``, ``Tensor.log_softmax``, and in
``torch.nn.functional``: ``softmax``, ``log_softmax``, ``cross_entropy``, ``nll_loss``,
``binary_cross_entropy``, ``binary_cross_entropy_with_logits``, as well as the matching
``torch.nn`` modules (``nn.Softmax``, ``nn.LogSoftmax``, ``nn.CrossEntropyLoss``, ``nn.NLLLoss``,
``nn.BCELoss``, ``nn.BCEWithLogitsLoss``). The full list is in ``course.toml``.
Allowed and useful: ``torch.exp``, ``torch.log``, ``torch.log1p``, ``torch.logsumexp``,
``Tensor.amax``, ``torch.clamp``, ``torch.where``, ``Tensor.gather``.

Run ``autograder check`` in this folder to run the public tests.
"""

from __future__ import annotations

import torch


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax of ``x`` along ``dim``, as ``torch.softmax(x, dim)``.

    ``softmax(x)_i = exp(x_i) / sum_j exp(x_j)``, the sum running along ``dim``.

    Args:
        x: float32 or float64 tensor of any shape (0-dim and size-0 dimensions included).
        dim: the dimension to normalise over (negative values count from the end).

    Returns:
        A new tensor with the shape and dtype of ``x``; it sums to 1 along ``dim``.

    Must stay finite and accurate for logits up to 1e4 in magnitude, float32 included: subtract
    the maximum along ``dim`` first (softmax does not change when a constant is added along
    ``dim``). A dimension of size 0 gives an empty result, as in PyTorch.

    Example:
        >>> softmax(torch.tensor([[1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]]))
        tensor([[0.0900, 0.2447, 0.6652],
                [0.5000, 0.5000, 0.0000]])
    """
    raise NotImplementedError("softmax: write this function")


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Logarithm of the softmax of ``x`` along ``dim``, as ``torch.log_softmax(x, dim)``.

    ``log_softmax(x)_i = x_i - log(sum_j exp(x_j))``.

    Args:
        x: float32 or float64 tensor of any shape (0-dim and size-0 dimensions included).
        dim: the dimension to normalise over.

    Returns:
        A new tensor with the shape and dtype of ``x``; every entry is <= 0.

    Must stay finite for logits up to 1e4 in magnitude, float32 included: ``log(softmax(x))``
    is NOT good enough (the softmax underflows to 0 and its log is ``-inf``). Use
    ``x - m - log(sum(exp(x - m)))`` with ``m`` the maximum along ``dim``, or
    ``torch.logsumexp``.

    Example:
        >>> log_softmax(torch.tensor([0.0, 1e4]))
        tensor([-10000.,      0.])
    """
    raise NotImplementedError("log_softmax: write this function")


def binary_cross_entropy(probs: torch.Tensor, targets: torch.Tensor,
                         weight: torch.Tensor | None = None,
                         reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy between probabilities and targets, as ``F.binary_cross_entropy``.

    Per element: ``loss = -weight * (y * log(p) + (1 - y) * log(1 - p))``, where each of the
    two logs is clamped below at -100, exactly as PyTorch does. So ``p = 0`` with ``y = 1``
    gives a loss of 100, not ``inf`` (and ``0 * log(0)`` never produces a NaN).

    Args:
        probs: float32/float64 tensor of probabilities in [0, 1], any shape.
        targets: tensor of the same shape and dtype, values in [0, 1] (soft targets allowed).
        weight: optional tensor broadcastable to ``probs.shape`` (e.g. one value per column),
            multiplying each element's loss.
        reduction: ``"none"`` (loss of shape ``probs.shape``), ``"mean"`` (mean over all
            elements; NaN for an empty input) or ``"sum"``.

    Returns:
        A tensor of the dtype of ``probs``: shaped like ``probs`` for ``"none"``, 0-dim else.

    Raises:
        ValueError: unknown ``reduction``; ``targets`` shaped differently from ``probs``;
            a probability outside [0, 1]; a ``weight`` that does not broadcast to the shape.

    Example:
        >>> binary_cross_entropy(torch.tensor([0.9, 0.2, 0.0]), torch.tensor([1.0, 0.0, 1.0]),
        ...                      reduction="none")
        tensor([  0.1054,   0.2231, 100.0000])
    """
    raise NotImplementedError("binary_cross_entropy: write this function")


def binary_cross_entropy_with_logits(logits: torch.Tensor, targets: torch.Tensor,
                                     weight: torch.Tensor | None = None,
                                     pos_weight: torch.Tensor | None = None,
                                     reduction: str = "mean") -> torch.Tensor:
    """Sigmoid + binary cross-entropy in one stable step, as ``F.binary_cross_entropy_with_logits``.

    Per element, with ``s = sigmoid(x)``:
    ``loss = -weight * (pos_weight * y * log(s) + (1 - y) * log(1 - s))``
    (``pos_weight`` multiplies only the positive term; both weights default to 1). Works for
    single-label targets (shape ``(N,)``), multi-label targets (``(N, C)``, ``pos_weight`` of
    shape ``(C,)`` is one weight per class) and soft targets in [0, 1].

    Must stay finite and accurate for logits up to 1e4 in magnitude: never compute
    ``log(sigmoid(x))`` directly. Note ``-log(sigmoid(x)) = log(1 + exp(-x))`` and
    ``-log(1 - sigmoid(x)) = x + log(1 + exp(-x))``; rewrite ``log(1 + exp(-x))`` so that
    ``exp`` is only ever applied to a number <= 0 (hint: ``log1p(exp(-|x|))``).

    Args:
        logits: float32/float64 tensor of any shape.
        targets: same shape and dtype as ``logits``, values in [0, 1].
        weight: optional tensor broadcastable to ``logits.shape``.
        pos_weight: optional tensor broadcastable to ``logits.shape`` (usually ``(C,)``).
        reduction: ``"none"``, ``"mean"`` (NaN for an empty input) or ``"sum"``.

    Returns:
        A tensor of the dtype of ``logits``: shaped like ``logits`` for ``"none"``, else 0-dim.

    Raises:
        ValueError: unknown ``reduction``; ``targets`` shaped differently from ``logits``;
            a ``weight`` / ``pos_weight`` that does not broadcast to the shape.

    Example:
        >>> binary_cross_entropy_with_logits(torch.tensor([0.0, 1e4, -1e4]),
        ...                                  torch.tensor([1.0, 0.0, 0.0]), reduction="none")
        tensor([6.9315e-01, 1.0000e+04, 0.0000e+00])
    """
    raise NotImplementedError("binary_cross_entropy_with_logits: write this function")


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                  weight: torch.Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> torch.Tensor:
    """Softmax cross-entropy, as ``F.cross_entropy``.

    The class dimension is dim 1: ``logits`` is ``(N, C)`` or ``(N, C, d1, ..., dk)`` (e.g. one
    prediction per pixel). ``targets`` is either

    * class indices: an int64 tensor of shape ``(N,)`` / ``(N, d1, ..., dk)``, values in
      ``[0, C)`` or equal to ``ignore_index``. The loss of one position is
      ``-weight[t] * log_softmax(logits)[t]``. Positions whose target is ``ignore_index``
      contribute 0 and are left out of the mean, which divides by the sum of ``weight[t]``
      over the positions kept (their number when ``weight`` is None). If every target is
      ignored, ``"mean"`` gives NaN, as in PyTorch.
    * class probabilities: a float tensor shaped like ``logits``. The loss of one position is
      ``-sum_c weight[c] * p[c] * log_softmax(logits)[c]``; the mean divides by the number
      of positions (N * d1 * ... * dk), weights or not.

    ``label_smoothing`` = eps in [0, 1] mixes the target with the uniform distribution:
    the target becomes ``(1 - eps) * target + eps / C`` (for class indices: ``(1 - eps)`` times
    the class-index loss plus ``eps / C`` times ``-sum_c weight[c] * log_softmax(logits)[c]``,
    with the same mean denominator as above).

    Args:
        logits: float32/float64, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
        targets: int64 class indices or float class probabilities (see above).
        weight: optional float tensor of shape ``(C,)``, one weight per class.
        ignore_index: a class-index target value to skip (class-index targets only).
        reduction: ``"none"`` (shape ``(N, d1, ..., dk)``), ``"mean"`` or ``"sum"``.
        label_smoothing: float in [0, 1].

    Returns:
        A tensor of the dtype of ``logits``.

    Raises:
        ValueError: unknown ``reduction``; targets of the wrong shape; a class index outside
            ``[0, C)`` that is not ``ignore_index``; ``weight`` not of shape ``(C,)``;
            ``label_smoothing`` outside [0, 1].

    Must stay finite for large logits: build it on your stable ``log_softmax``.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0]])
        >>> cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.2413, 1.0986])
        >>> cross_entropy(logits, torch.tensor([0, -100]))   # second target ignored
        tensor(0.2413)
    """
    raise NotImplementedError("cross_entropy: write this function")
