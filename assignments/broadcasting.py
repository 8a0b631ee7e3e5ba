"""Exercise 1: broadcasting rules.

After *Dive into Deep Learning*, section 2.1.4 ("Broadcasting"). When two tensors of different
shapes meet in an elementwise operation, PyTorch lines their shapes up from the right, treats
missing leading dimensions as size 1, and stretches every size-1 dimension to match the other
tensor. In this exercise you write those rules yourself:

- ``broadcast_shape`` and ``can_broadcast`` compute the result shape (or say there is none);
- ``broadcast_to`` materialises a broadcast tensor;
- ``unbroadcast`` goes the other way, as autograd does in the backward pass: the gradient that
  reaches a broadcast input is summed over every dimension that was stretched.

Rules for every function:
- Tensors may be float32 or float64, contiguous or not (transposed, sliced). Results keep the
  input's dtype. Never modify an input in place.
- Invalid arguments raise ``ValueError`` (``TypeError`` for a wrong type) with a message that
  says what was wrong, before any work is done.

Forbidden (using one scores 0 for the function that uses it): ``torch.broadcast_shapes``,
``torch.broadcast_to``, ``torch.broadcast_tensors`` (and torch's wrapper of it,
``torch.distributions.utils.broadcast_all``), ``Tensor.expand``, ``Tensor.expand_as``,
``Tensor.broadcast_to``, NumPy's ``broadcast``, ``broadcast_shapes``, ``broadcast_to`` and
``broadcast_arrays``; and in ``unbroadcast`` also autograd (``torch.autograd``, ``torch.func``,
``.backward()``, turning ``requires_grad`` on). See ``course.toml`` for the exact list.

Everything else is allowed: ordinary arithmetic (``+`` on tensors broadcasts too, you may use it),
``reshape``, ``unsqueeze``, ``repeat``, ``sum``, indexing, Python loops.
"""

from __future__ import annotations

import torch

__all__ = ["broadcast_shape", "can_broadcast", "broadcast_to", "unbroadcast"]


def broadcast_shape(*shapes) -> tuple[int, ...]:
    """Return the shape that ``shapes`` broadcast to, as ``torch.broadcast_shapes`` does.

    Args:
        *shapes: any number of shapes, each a tuple, a list or a ``torch.Size`` of ints
            (``()`` is the shape of a 0-dim tensor).

    Returns:
        A tuple of ints (not a list). Shapes are aligned on the right; a missing leading
        dimension counts as size 1; in each dimension every size must be 1 or equal to the
        others, and the result takes the size that is not 1 (or 1 if all are 1).
        No shapes at all gives ``()``.
        Sizes of 0 follow PyTorch: 0 with 1 gives 0 (a size-1 dimension stretches to 0),
        0 with 0 gives 0, but 0 with 2 is an error.

    Raises:
        ValueError: if the shapes do not broadcast. The message must name the dimension that
            clashes, e.g. ``"dimension -2 has sizes 8 and 6"``. Also for a negative size.
        TypeError: if a shape is not a tuple / list / torch.Size, or holds something that is
            not an int (e.g. ``2.0``).

    Example:
        >>> broadcast_shape((8, 1, 6, 1), (7, 1, 5))
        (8, 7, 6, 5)
        >>> broadcast_shape([2, 1], (3,), ())
        (2, 3)
        >>> broadcast_shape((0,), (1,))
        (0,)
        >>> broadcast_shape()
        ()
        >>> broadcast_shape((7, 8, 9), (6, 9))
        Traceback (most recent call last):
        ValueError: ... dimension -2 ...
    """
    raise NotImplementedError("broadcast_shape is not implemented yet")


def can_broadcast(*shapes) -> bool:
    """Return whether ``broadcast_shape(*shapes)`` would succeed.

    Args:
        *shapes: any number of shapes (tuples, lists or ``torch.Size``).

    Returns:
        A Python ``bool``: ``True`` if the shapes broadcast (no shapes at all do), ``False``
        otherwise. It does not raise for incompatible shapes.

    Example:
        >>> can_broadcast((2, 1), (3,))
        True
        >>> can_broadcast((2,), (3,))
        False
        >>> can_broadcast((0,), (2,))
        False
    """
    raise NotImplementedError("can_broadcast is not implemented yet")


def broadcast_to(x: torch.Tensor, shape) -> torch.Tensor:
    """Broadcast ``x`` to ``shape``: same shape and values as ``torch.broadcast_to(x, shape)``.

    Args:
        x: a tensor (float32 or float64, any number of dimensions, possibly non-contiguous).
        shape: the target shape (tuple, list or ``torch.Size`` of ints) with at least
            ``x.dim()`` dimensions. As in PyTorch, ``-1`` may be used for a dimension that
            ``x`` already has, and means "keep x's size there"; it is not allowed in a new
            leading dimension.

    Returns:
        A tensor of shape ``shape`` (with any ``-1`` replaced) and ``x``'s dtype, where every
        size-1 (or missing leading) dimension of ``x`` is repeated along the target size.
        ``x`` itself is left unchanged.

    Raises:
        ValueError: where ``torch.broadcast_to`` would fail: ``len(shape) < x.dim()``; a
            dimension of ``x`` that is neither 1 nor the target size (a size-0 dimension only
            goes to 0); ``-1`` in a new leading dimension; any other negative size.
        TypeError: if ``x`` is not a tensor, or ``shape`` holds something that is not an int
            (e.g. ``2.0``).

    Example:
        >>> broadcast_to(torch.tensor([1., 2., 3.]), (2, 3))
        tensor([[1., 2., 3.],
                [1., 2., 3.]])
        >>> broadcast_to(torch.tensor([[1.], [2.]]), (-1, 3))    # -1 keeps the size 2
        tensor([[1., 1., 1.],
                [2., 2., 2.]])
    """
    raise NotImplementedError("broadcast_to is not implemented yet")


def unbroadcast(grad: torch.Tensor, shape) -> torch.Tensor:
    """Sum ``grad`` over the broadcast dimensions so that the result has shape ``shape``.

    If a tensor ``a`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass,
    the gradient that autograd gives ``a`` is ``unbroadcast(grad, a.shape)``: every extra
    leading dimension of ``grad`` is summed away, and every dimension where ``shape`` has a 1
    (but ``grad`` does not) is summed with the size-1 dimension kept.

    Args:
        grad: the upstream gradient, a float32 or float64 tensor (possibly non-contiguous).
        shape: the shape of the input before broadcasting (tuple, list or ``torch.Size``);
            it must broadcast to ``grad.shape``.

    Returns:
        A tensor of shape exactly ``shape`` and ``grad``'s dtype. A sum over a size-0
        dimension is 0. ``grad`` is left unchanged.

    Raises:
        ValueError: if ``shape`` does not broadcast to ``grad.shape`` (more dimensions than
            ``grad``, or a size that is neither 1 nor ``grad``'s size in that dimension).
            Broadcasting goes one way, from ``shape`` to ``grad.shape``: a size 1 of ``grad``
            does not take ``shape``'s 2.
        TypeError: if ``shape`` holds something that is not an int (e.g. ``1.0``).

    Example:
        >>> g = torch.tensor([[1., 2., 3.],
        ...                   [4., 5., 6.]])
        >>> unbroadcast(g, (3,))        # summed over the leading dimension
        tensor([5., 7., 9.])
        >>> unbroadcast(g, (2, 1))      # summed over the last dimension, kept as size 1
        tensor([[ 6.],
                [15.]])
        >>> unbroadcast(g, ())
        tensor(21.)
    """
    raise NotImplementedError("unbroadcast is not implemented yet")
