"""Writes tests/data/torch_conv.txt: PyTorch float64 values, first- and second-order gradients of
conv2d, conv_transpose2d, max_pool2d, avg_pool2d, im2col (F.unfold) and col2im (F.fold) on 30
random shape/kernel/stride/pad combinations each (odd sizes, strides above the kernel, padding),
read by tests/suite/torch_conv.rs (so CI needs no Python).

    /tmp/torchenv/bin/python tools/torch_conv.py > tests/data/torch_conv.txt

Per case: `case <op> k=kh,kw s=sh,sw p=ph,pw [size=h,w]`, the inputs (`input`), the directions
of the second-order check (`weight`), the loss weights `out` (loss = sum(y * out)), the value,
and `grad`/`grad2` of each input (grad2 differentiates sum_i sum(grad_i * weight_i)).
"""
import random

import torch
import torch.nn.functional as tf

torch.set_default_dtype(torch.float64)
PER_OP = 30


def fmt(t):
    return " ".join(repr(float(v)) for v in t.detach().clone().contiguous().reshape(-1))


def shape(t):
    return ",".join(map(str, t.shape)) if t.dim() else "-"


def rand(rng, *s):
    return torch.tensor([rng.uniform(-1, 1) for _ in range(torch.Size(s).numel())]).reshape(s)


def case(rng, op):
    while True:
        n, c, oc = rng.randint(1, 2), rng.randint(1, 2), rng.randint(1, 3)
        h, w = rng.randint(3, 6), rng.randint(3, 6)
        k = (rng.randint(1, 3), rng.randint(1, 3))
        s = (rng.randint(1, 3), rng.randint(1, 3))
        pool = op in ("max_pool2d", "avg_pool2d")
        p = (rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2)) if pool else (rng.randint(0, 2), rng.randint(0, 2))
        if h + 2 * p[0] < k[0] or w + 2 * p[1] < k[1]:
            continue
        oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
        size = ""
        if op == "im2col":
            xs = [rand(rng, n, c, h, w)]
            f = lambda x: tf.unfold(x, k, padding=p, stride=s)  # noqa: E731
        elif op == "col2im":
            xs = [rand(rng, n, c * k[0] * k[1], oh * ow)]
            f = lambda x: tf.fold(x, (h, w), k, padding=p, stride=s)  # noqa: E731
            size = f" size={h},{w}"
        elif op == "conv2d":
            xs = [rand(rng, n, c, h, w), rand(rng, oc, c, *k), rand(rng, oc)]
            f = lambda x, wt, b: tf.conv2d(x, wt, b, stride=s, padding=p)  # noqa: E731
        elif op == "conv_transpose2d":
            if (h - 1) * s[0] + k[0] - 2 * p[0] <= 0 or (w - 1) * s[1] + k[1] - 2 * p[1] <= 0:
                continue
            xs = [rand(rng, n, c, h, w), rand(rng, c, oc, *k), rand(rng, oc)]
            f = lambda x, wt, b: tf.conv_transpose2d(x, wt, b, stride=s, padding=p)  # noqa: E731
        elif op == "max_pool2d":
            xs = [rand(rng, n, c, h, w)]
            f = lambda x: tf.max_pool2d(x, k, s, p)  # noqa: E731
        else:
            xs = [rand(rng, n, c, h, w)]
            f = lambda x: tf.avg_pool2d(x, k, s, p, count_include_pad=True)  # noqa: E731
        break
    for x in xs:
        x.requires_grad_(True)
    y = f(*xs)
    r = rand(rng, *y.shape)
    vs = [rand(rng, *x.shape) for x in xs]
    loss = (y * r).sum()
    gs = torch.autograd.grad(loss, xs, create_graph=True)
    sec = sum((g * v).sum() for g, v in zip(gs, vs))
    g2 = torch.autograd.grad(sec, xs, allow_unused=True) if sec.requires_grad else [None] * len(xs)
    g2 = [torch.zeros_like(x) if g is None else g for g, x in zip(g2, xs)]
    lines = [f"case {op} k={k[0]},{k[1]} s={s[0]},{s[1]} p={p[0]},{p[1]}{size}"]
    for i, (x, v) in enumerate(zip(xs, vs)):
        lines.append(f"input x{i} {shape(x)} : {fmt(x)}")
        lines.append(f"weight x{i} {shape(v)} : {fmt(v)}")
    lines.append(f"out {shape(r)} : {fmt(r)}")
    lines.append(f"value {shape(y)} : {fmt(y)}")
    for i, g in enumerate(gs):
        lines.append(f"grad x{i} : {fmt(g)}")
    for i, g in enumerate(g2):
        lines.append(f"grad2 x{i} : {fmt(g)}")
    lines.append("end")
    return lines


def main():
    rng = random.Random(57)
    print(f"# torch {torch.__version__}, float64; written by tools/torch_conv.py")
    for op in ["im2col", "col2im", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d"]:
        for _ in range(PER_OP):
            print("\n".join(case(rng, op)))


if __name__ == "__main__":
    main()
