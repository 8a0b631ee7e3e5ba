"""Public tests for the attention exercise. Run them with `autograder check`.

They check typical cases against PyTorch itself; the hidden suite that grades you checks many
more (float64, non-contiguous inputs, inputs left unmodified, valid lengths of 0 or above the
number of keys, very large scores, empty batches, gradients, dropout, every module's layers).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from autograder.testing import expect_close, expect_equal, expect_raises, expect_unchanged

pytestmark = pytest.mark.exercise("attention")


def _masked_softmax(scores, valid_lens):
    """The book's masked softmax, for expected values."""
    if valid_lens is None:
        return torch.softmax(scores, dim=-1)
    lens = valid_lens[:, None, None] if valid_lens.dim() == 1 else valid_lens[:, :, None]
    keep = torch.arange(scores.shape[-1]) < lens
    return torch.softmax(torch.where(keep, scores, torch.tensor(-1e6, dtype=scores.dtype)), dim=-1)


def _expected_dpa(q, k, v, valid_lens=None):
    w = _masked_softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), valid_lens)
    return w @ v, w


def _qkv(seed, b=2, nq=3, nk=4, d=2, dv=5, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, nq, d, generator=g, dtype=dtype),
            torch.randn(b, nk, d, generator=g, dtype=dtype),
            torch.randn(b, nk, dv, generator=g, dtype=dtype))


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_no_mask(student):
    """dot_product_attention without valid_lens: weights and output"""
    q, k, v = _qkv(0)
    out, w = student.attention.dot_product_attention(q, k, v)
    exp_out, exp_w = _expected_dpa(q, k, v)
    expect_close(w, exp_w, what="weights", call=("dot_product_attention", (q, k, v)),
                 hint="weights = softmax(Q @ K^T / sqrt(d)) over the LAST axis (the keys), with "
                      "d = queries.shape[-1]; torch.bmm(Q, K.transpose(1, 2)) gives (batch, nq, nk)")
    expect_close(out, exp_out, what="output", call=("dot_product_attention", (q, k, v)),
                 hint="output = weights @ values; return (output, weights) in that order")
    # the flash-attention kernel agrees on the output
    expect_close(out, torch.nn.functional.scaled_dot_product_attention(q, k, v), what="output")


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_valid_lens(student):
    """dot_product_attention with one valid length per example and one per query"""
    q, k, v = _qkv(1)
    for lens in (torch.tensor([2, 3]), torch.tensor([[1, 4, 2], [3, 3, 1]])):
        out, w = student.attention.dot_product_attention(q, k, v, lens)
        exp_out, exp_w = _expected_dpa(q, k, v, lens)
        expect_close(w, exp_w, what="weights", call=("dot_product_attention", (q, k, v, lens)),
                     hint="key j counts for a query only if j < valid_len; (batch,) lengths apply "
                          "to every query of the example, (batch, nq) ones to each query")
        expect_close(out, exp_out, what="output", call=("dot_product_attention", (q, k, v, lens)))


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_zero_length_and_unchanged(student):
    """dot_product_attention: valid length 0 gives uniform weights; inputs are not modified"""
    q, k, v = _qkv(2, dtype=torch.float64)
    lens = torch.tensor([0, 9])
    res = student.attention.dot_product_attention.detailed(q, k, v, lens)
    out, w = res.value
    expect_close(w, _expected_dpa(q, k, v, lens)[1], what="weights",
                 call=("dot_product_attention", (q, k, v, lens)),
                 hint="replace masked scores by -1e6 (not -inf, which gives NaN when every key is "
                      "masked); a valid length above nk masks nothing; keep the dtype (float64 here)")
    expect_close(out, _expected_dpa(q, k, v, lens)[0], what="output")
    for name, before, after in zip(("queries", "keys", "values", "valid_lens"), (q, k, v, lens),
                                   res.args):
        expect_unchanged(before, after, what=name)


@pytest.mark.points(1)
@pytest.mark.covers("DotProductAttention")
def test_dot_product_attention_module(student):
    """DotProductAttention in eval mode: output and attention_weights"""
    q, k, v = _qkv(3)
    lens = torch.tensor([3, 1])
    attn = student.attention.DotProductAttention.new(0.5)
    attn.eval.call_later()
    out = attn.forward(q, k, v, lens)
    exp_out, exp_w = _expected_dpa(q, k, v, lens)
    expect_close(out, exp_out, what="output", hint="forward returns only the output; in eval mode "
                 "dropout does nothing (use nn.Dropout, or F.dropout(..., training=self.training))")
    expect_close(attn.attention_weights.get(), exp_w, what="attention_weights",
                 hint="keep the masked-softmax weights in self.attention_weights")


@pytest.mark.points(1)
@pytest.mark.covers("AdditiveAttention")
def test_additive_attention(student):
    """AdditiveAttention: layer names and the output for given weights"""
    torch.manual_seed(0)
    W_k, W_q, w_v = nn.Linear(2, 8, bias=False), nn.Linear(20, 8, bias=False), nn.Linear(8, 1, bias=False)
    attn = student.attention.AdditiveAttention.new(2, 20, 8, dropout=0.1)
    keys = sorted(attn.state_dict().keys())
    expect_equal(keys, ["W_k.weight", "W_q.weight", "w_v.weight"], what="state_dict() keys",
                 hint="three Linear layers without bias named W_k, W_q and w_v")
    attn.load_state_dict.call_later(
        {"W_k.weight": W_k.weight.detach(), "W_q.weight": W_q.weight.detach(),
         "w_v.weight": w_v.weight.detach()})
    attn.eval.call_later()
    g = torch.Generator().manual_seed(4)
    q, k = torch.randn(2, 1, 20, generator=g), torch.ones(2, 10, 2)
    v = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    lens = torch.tensor([2, 6])
    with torch.no_grad():
        scores = w_v(torch.tanh(W_q(q)[:, :, None, :] + W_k(k)[:, None, :, :]))[..., 0]
        w = _masked_softmax(scores, lens)
    expect_close(attn.forward(q, k, v, lens), w @ v, what="output",
                 hint="scores[b, i, j] = w_v(tanh(W_q q_i + W_k k_j)): add (batch, nq, 1, h) to "
                      "(batch, 1, nk, h), and squeeze only the LAST axis (nq is 1 here)")
    expect_close(attn.attention_weights.get(), w, what="attention_weights")


@pytest.mark.points(1)
@pytest.mark.covers("transpose_qkv", "transpose_output")
def test_transpose_qkv_and_output(student):
    """transpose_qkv splits the hidden units into heads and transpose_output joins them back"""
    X = torch.arange(24.0).reshape(2, 3, 4)
    expected = X.reshape(2, 3, 2, 2).permute(0, 2, 1, 3).reshape(4, 3, 2)
    got = student.attention.transpose_qkv(X, 2)
    expect_close(got, expected, what="transpose_qkv output", call=("transpose_qkv", (X, 2)),
                 hint="reshape to (batch, n, num_heads, h), move the heads before n, then merge "
                      "batch and heads: row b * num_heads + i is head i of example b")
    back = student.attention.transpose_output(expected, 2)
    expect_close(back, X, what="transpose_output output", call=("transpose_output", (expected, 2)),
                 hint="do the steps of transpose_qkv backwards")
    expect_raises(ValueError, student.attention.transpose_qkv, torch.zeros(1, 2, 6), 4,
                  hint="6 hidden units cannot be split into 4 heads: raise ValueError")


@pytest.mark.points(1)
@pytest.mark.covers("MultiHeadAttention")
def test_multihead_attention(student):
    """MultiHeadAttention: layer names, output shape and values, ValueError for bad num_heads"""
    torch.manual_seed(0)
    layers = {"W_q": nn.Linear(3, 8, bias=True), "W_k": nn.Linear(5, 8, bias=True),
              "W_v": nn.Linear(4, 8, bias=True), "W_o": nn.Linear(8, 8, bias=True)}
    state = {f"{n}.{p}": t.detach() for n, layer in layers.items()
             for p, t in layer.named_parameters()}
    mha = student.attention.MultiHeadAttention.new(5, 3, 4, 8, 2, dropout=0.2, bias=True)
    expect_equal(sorted(mha.state_dict().keys()), sorted(state), what="state_dict() keys",
                 hint="W_q, W_k, W_v, W_o as nn.Linear with bias=bias, and attention a "
                      "DotProductAttention (which has no parameters)")
    mha.load_state_dict.call_later(state)
    mha.eval.call_later()
    g = torch.Generator().manual_seed(5)
    q, k, v = torch.randn(2, 3, 3, generator=g), torch.randn(2, 4, 5, generator=g), \
        torch.randn(2, 4, 4, generator=g)
    lens = torch.tensor([1, 3])
    with torch.no_grad():
        def split(x):
            return x.reshape(2, x.shape[1], 2, 4).permute(0, 2, 1, 3).reshape(4, x.shape[1], 4)
        out, _ = _expected_dpa(split(layers["W_q"](q)), split(layers["W_k"](k)),
                               split(layers["W_v"](v)), torch.repeat_interleave(lens, 2))
        out = out.reshape(2, 2, 3, 4).permute(0, 2, 1, 3).reshape(2, 3, 8)
        expected = layers["W_o"](out)
    expect_close(mha.forward(q, k, v, lens), expected, what="output",
                 hint="project, transpose_qkv, attention with the valid lengths repeated per head "
                      "(torch.repeat_interleave(valid_lens, num_heads, dim=0)), transpose_output, W_o")
    expect_raises(ValueError, student.attention.MultiHeadAttention.new, 5, 3, 4, 10, 4,
                  hint="check num_hiddens % num_heads in __init__ and raise ValueError (not assert)")
