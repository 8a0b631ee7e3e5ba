"""Variant (correct): softmax as exp(z - logsumexp(z)), a generator-built dict, numpy-free index math.

The cross-entropy gradient uses torch.logsumexp (at logits near 1e3 in float32 it differs from
torch.softmax by a few ulps of the logits: the contract's reading scales tolerances there).
numerical_grad builds its perturbed copies with index_put on a flattened contiguous copy.
"""

import torch


def _ft(name, v):
    if not torch.is_tensor(v):
        raise TypeError(f"{name}: expected a tensor, got {type(v).__name__}")
    if not torch.is_floating_point(v):
        raise TypeError(f"{name}: expected a floating-point tensor")


def square_loss_grad(x, y, w):
    args = (x, y, w)
    if any(isinstance(a, bool) or not isinstance(a, (int, float, torch.Tensor)) for a in args):
        raise TypeError("arguments must be floats or tensors")
    tshapes = [tuple(a.shape) for a in args if torch.is_tensor(a)]
    if tshapes:
        nd = max(map(len, tshapes))
        padded = [(1,) * (nd - len(s)) + s for s in tshapes]
        for dim, sizes in enumerate(zip(*padded)):
            if len(set(sizes) - {1}) > 1:
                raise ValueError(f"dimension {dim - nd} clashes: {sizes}")
    else:
        x, y, w = map(float, args)
    return 2.0 * x * (w * x - y)


def numerical_grad(f, x, h=1e-5):
    if not callable(f):
        raise TypeError("f is not callable")
    _ft("x", x)
    if h <= 0:
        raise ValueError("h must be positive")
    base = x.reshape(-1).contiguous()
    vals = []
    for i in range(base.numel()):
        idx = (torch.tensor([i]),)
        up = base.index_put(idx, base[i:i + 1] + h)
        down = base.index_put(idx, base[i:i + 1] - h)
        vals.append((f(up.view(x.shape)) - f(down.view(x.shape))) / (2 * h))
    g = torch.tensor([float(v) for v in vals], dtype=torch.float64).to(x.dtype)
    return g.reshape(x.shape)


def linear_regression_grads(X, y, w, b):
    _ft("X", X); _ft("y", y); _ft("w", w)
    if X.ndim != 2:
        raise ValueError("X must be (n, d)")
    if y.shape != X.shape[:1] or w.shape != X.shape[1:]:
        raise ValueError("y must be (n,) and w (d,)")
    if torch.is_tensor(b) and b.ndim != 0:
        raise ValueError("b must be 0-dim")
    if not torch.is_tensor(b) and not isinstance(b, (int, float)):
        raise TypeError("b must be a float or tensor")
    err = torch.mv(X, w) + b - y
    n = X.shape[0]
    return torch.mv(X.t(), err) / n, torch.sum(err) / n


def linear_backward(dout, x, W, b):
    for k, v in zip(("dout", "x", "W", "b"), (dout, x, W, b)):
        _ft(k, v)
    if W.ndim != 2 or b.shape != (W.shape[0],) or x.ndim < 1 or x.shape[-1] != W.shape[1]:
        raise ValueError("W (out, in), b (out,), x (..., in) required")
    if dout.shape != (*x.shape[:-1], W.shape[0]):
        raise ValueError("dout must be (..., out)")
    x2 = x.reshape(-1, W.shape[1]) if x.numel() else torch.zeros(0, W.shape[1], dtype=x.dtype)
    d2 = dout.reshape(x2.shape[0], W.shape[0]) if x.numel() else torch.zeros(0, W.shape[0], dtype=x.dtype)
    if x.numel() == 0 and dout.numel():   # in == 0 but rows exist
        d2 = dout.reshape(-1, W.shape[0])
        x2 = torch.zeros(d2.shape[0], 0, dtype=x.dtype)
    return dout.matmul(W), d2.t().mm(x2), d2.sum(0)


def _chk(dout, x):
    _ft("dout", dout); _ft("x", x)
    if dout.shape != x.shape:
        raise ValueError("dout.shape != x.shape")


def relu_backward(dout, x):
    _chk(dout, x)
    return dout.masked_fill(x <= 0, 0.0)


def sigmoid_backward(dout, x):
    _chk(dout, x)
    s = torch.special.expit(x)
    return dout * (s - s * s)


def tanh_backward(dout, x):
    _chk(dout, x)
    t = x.tanh()
    return dout - dout * t * t


def _softmax(z):
    return torch.exp(z - torch.logsumexp(z, dim=1, keepdim=True))


def _labels(t, n, c):
    if not torch.is_tensor(t):
        raise TypeError("targets must be a tensor")
    if t.dtype.is_floating_point:
        raise ValueError("targets must hold class indices, not floats")
    if t.shape != (n,):
        raise ValueError("targets must be (N,)")
    if n and not (0 <= int(t.min()) and int(t.max()) < c):
        raise ValueError("targets outside [0, C)")


def softmax_cross_entropy_backward(logits, targets):
    _ft("logits", logits)
    if logits.ndim != 2 or logits.shape[1] == 0:
        raise ValueError("logits must be (N, C)")
    n, c = logits.shape
    _labels(targets, n, c)
    p = _softmax(logits)
    rows = torch.arange(n)
    p = p.index_put((rows, targets), p[rows, targets] - 1)
    return p / n if n else p


def mlp_backward(X, y, W1, b1, W2, b2):
    names = ("X", "W1", "b1", "W2", "b2")
    for k, v in zip(names, (X, W1, b1, W2, b2)):
        _ft(k, v)
    if X.ndim != 2 or W1.ndim != 2 or W2.ndim != 2 or W1.shape[1] != X.shape[1] or W2.shape[1] != W1.shape[0]:
        raise ValueError("weights do not fit X")
    if b1.shape != W1.shape[:1] or b2.shape != W2.shape[:1] or W2.shape[0] == 0:
        raise ValueError("biases do not fit the weights")
    _labels(y, X.shape[0], W2.shape[0])
    z1 = torch.addmm(b1, X, W1.t())
    a1 = z1 * (z1 > 0)
    z2 = torch.addmm(b2, a1, W2.t())
    dz2 = softmax_cross_entropy_backward(z2, y)
    dz1 = relu_backward(dz2.mm(W2), z1)
    parts = (("W1", lambda: dz1.t().mm(X)), ("b1", lambda: dz1.sum(0)),
             ("W2", lambda: dz2.t().mm(a1)), ("b2", lambda: dz2.sum(0)))
    return dict((k, make()) for k, make in parts)
