"""Writes tests/data/pytorch_elementwise.txt: PyTorch float64 values, first and second derivatives
of tapegrad's elementwise ops, read by tests/suite/pytorch_reference.rs (so CI needs no Python).

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch
    /tmp/torchenv/bin/python tools/pytorch_reference.py > tests/data/pytorch_elementwise.txt
"""
import torch

torch.set_default_dtype(torch.float64)

# op name as tapegrad spells it -> (torch function, points inside its domain)
OPS = {
    "atan": (torch.atan, [-3.0, -0.7, 0.0, 0.4, 2.5]),
    "asin": (torch.asin, [-0.9, -0.3, 0.0, 0.5, 0.95]),
    "acos": (torch.acos, [-0.9, -0.3, 0.0, 0.5, 0.95]),
    "sinh": (torch.sinh, [-3.0, -0.7, 0.0, 0.4, 2.5]),
    "cosh": (torch.cosh, [-3.0, -0.7, 0.0, 0.4, 2.5]),
    "log1p": (torch.log1p, [-0.9, -1e-8, 0.0, 1e-10, 0.4, 7.0]),
    "expm1": (torch.expm1, [-3.0, -1e-8, 0.0, 1e-10, 0.4, 2.5]),
}

print(f"# torch {torch.__version__}, float64: op x y dy/dx d2y/dx2")
for name, (f, points) in OPS.items():
    x = torch.tensor(points, requires_grad=True)
    y = f(x)
    (dy,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (d2y,) = torch.autograd.grad(dy.sum(), x)
    for row in zip(x.tolist(), y.tolist(), dy.tolist(), d2y.tolist()):
        print(name, " ".join(repr(v) for v in row))
