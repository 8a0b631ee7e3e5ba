"""Public tests for losses.py: run them with ``autograder check`` in your assignments folder.

They compare your functions with PyTorch's own on a few small inputs. Passing them is a good
sign, not a guarantee: the hidden suite also tries other shapes, dtypes, memory layouts,
extreme values, gradients and invalid arguments (see the docstrings in losses.py).
"""

import pytest
import torch
import torch.nn.functional as F

from autograder.testing import expect_close, expect_raises, expect_unchanged

pytestmark = pytest.mark.exercise("losses")


@pytest.mark.covers("softmax")
def test_softmax(student):
    """softmax matches torch.softmax on a small matrix, along both dims, without changing its input"""
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0]])
    for dim in (-1, 0):
        res = student.losses.softmax.detailed(x, dim=dim)
        expect_close(res.value, torch.softmax(x, dim), call=("softmax", (x,), {"dim": dim}),
                     hint="exp(x) divided by the sum of exp(x) along dim (keepdim=True helps)")
        expect_unchanged(x, res.args[0], call=("softmax", (x,), {"dim": dim}))


@pytest.mark.covers("softmax", "log_softmax")
def test_softmax_large_logits(student):
    """softmax and log_softmax stay finite for logits of 1000 (float32)"""
    x = torch.tensor([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]])
    expect_close(student.losses.softmax(x), torch.softmax(x, -1), call=("softmax", (x,)),
                 hint="exp(1000) overflows: subtract the maximum of each row first")
    expect_close(student.losses.log_softmax(x), torch.log_softmax(x, -1),
                 call=("log_softmax", (x,)),
                 hint="log(softmax(x)) gives -inf here: use x - max - log(sum(exp(x - max)))")


@pytest.mark.covers("log_softmax")
def test_log_softmax_float64(student):
    """log_softmax matches torch.log_softmax on a float64 3-D tensor along dim 1 (dtype kept)"""
    x = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4).sin() * 3
    expect_close(student.losses.log_softmax(x, dim=1), torch.log_softmax(x, 1),
                 call=("log_softmax", (x,), {"dim": 1}),
                 hint="reduce along dim (not always the last one) and keep the input's dtype")


@pytest.mark.covers("binary_cross_entropy")
def test_binary_cross_entropy(student):
    """binary_cross_entropy matches F.binary_cross_entropy, including probabilities of exactly 0 and 1"""
    p = torch.tensor([0.9, 0.2, 0.0, 1.0, 0.5])
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.3])
    for reduction in ("none", "mean", "sum"):
        expect_close(student.losses.binary_cross_entropy(p, y, reduction=reduction),
                     F.binary_cross_entropy(p, y, reduction=reduction),
                     call=("binary_cross_entropy", (p, y), {"reduction": reduction}),
                     hint="clamp each log at -100 (torch.clamp(torch.log(p), min=-100)), "
                          "then reduce as asked")
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    expect_close(student.losses.binary_cross_entropy(p, y, weight=w),
                 F.binary_cross_entropy(p, y, weight=w),
                 call=("binary_cross_entropy", (p, y), {"weight": w}),
                 hint="weight multiplies each element's loss; 'mean' still divides by the "
                      "number of elements")


@pytest.mark.covers("binary_cross_entropy_with_logits")
def test_binary_cross_entropy_with_logits(student):
    """binary_cross_entropy_with_logits matches PyTorch, with pos_weight and logits of +-1000"""
    x = torch.tensor([[0.5, -1.0, 2.0], [1000.0, -1000.0, 0.0]])
    y = torch.tensor([[1.0, 0.0, 0.3], [0.0, 0.0, 1.0]])
    pw = torch.tensor([2.0, 1.0, 0.5])
    expect_close(student.losses.binary_cross_entropy_with_logits(x, y, reduction="none"),
                 F.binary_cross_entropy_with_logits(x, y, reduction="none"),
                 call=("binary_cross_entropy_with_logits", (x, y), {"reduction": "none"}),
                 hint="-log(sigmoid(x)) = log1p(exp(-|x|)) + max(-x, 0) never overflows")
    expect_close(student.losses.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
                 F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
                 call=("binary_cross_entropy_with_logits", (x, y), {"pos_weight": pw}),
                 hint="pos_weight multiplies only the y * log(sigmoid(x)) term")


@pytest.mark.covers("cross_entropy")
def test_cross_entropy_class_indices(student):
    """cross_entropy matches F.cross_entropy with class indices, class weights and an ignored target"""
    x = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0], [1.0, 3.0, 0.5], [0.3, 0.2, 0.1]])
    t = torch.tensor([0, 2, -100, 1])
    w = torch.tensor([1.0, 2.0, 0.5])
    for reduction in ("none", "mean", "sum"):
        expect_close(student.losses.cross_entropy(x, t, reduction=reduction),
                     F.cross_entropy(x, t, reduction=reduction),
                     call=("cross_entropy", (x, t), {"reduction": reduction}),
                     hint="-log_softmax(x)[i, t[i]]; ignored targets give 0 and are left out "
                          "of the mean")
    expect_close(student.losses.cross_entropy(x, t, weight=w),
                 F.cross_entropy(x, t, weight=w), call=("cross_entropy", (x, t), {"weight": w}),
                 hint="with weights, 'mean' divides by the sum of weight[t] over the kept targets")


@pytest.mark.covers("cross_entropy")
def test_cross_entropy_probabilities_and_smoothing(student):
    """cross_entropy matches F.cross_entropy with probability targets, (N, C, d) logits and label smoothing"""
    x = torch.tensor([[[2.0, 0.0], [0.5, 1.0], [-1.0, 0.0]]])        # (N=1, C=3, d=2)
    p = torch.tensor([[[0.7, 0.2], [0.2, 0.3], [0.1, 0.5]]])
    t = torch.tensor([[0, 2]])
    expect_close(student.losses.cross_entropy(x, p), F.cross_entropy(x, p),
                 call=("cross_entropy", (x, p)),
                 hint="the class dimension is dim 1, also for (N, C, d1, ...) logits")
    expect_close(student.losses.cross_entropy(x, t, label_smoothing=0.1),
                 F.cross_entropy(x, t, label_smoothing=0.1),
                 call=("cross_entropy", (x, t), {"label_smoothing": 0.1}),
                 hint="smoothing mixes the target with the uniform distribution: eps / C per class")


@pytest.mark.covers("binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy")
def test_invalid_reduction(student):
    """every loss raises ValueError for an unknown reduction"""
    p = torch.tensor([0.5, 0.5])
    y = torch.tensor([1.0, 0.0])
    expect_raises(ValueError, student.losses.binary_cross_entropy, p, y, reduction="avg",
                  call=("binary_cross_entropy", (p, y), {"reduction": "avg"}),
                  hint="check reduction is one of 'none', 'mean', 'sum' before any work")
    expect_raises(ValueError, student.losses.binary_cross_entropy_with_logits, p, y,
                  reduction="avg", call=("binary_cross_entropy_with_logits", (p, y), {"reduction": "avg"}),
                  hint="check reduction is one of 'none', 'mean', 'sum' before any work")
    x = torch.zeros(2, 3)
    t = torch.tensor([0, 1])
    expect_raises(ValueError, student.losses.cross_entropy, x, t, reduction="avg",
                  call=("cross_entropy", (x, t), {"reduction": "avg"}),
                  hint="check reduction is one of 'none', 'mean', 'sum' before any work")
