"""Writes tests/data/pytorch_elementwise.txt: PyTorch float64 values, first and second derivatives
of tapegrad's elementwise ops, and the values and first derivatives of the ops with a kink at
their kinks (the subgradient PyTorch picks), read by tests/suite/pytorch_reference.rs (so CI
needs no Python).

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch
    /tmp/torchenv/bin/python tools/pytorch_reference.py > tests/data/pytorch_elementwise.txt
"""
import torch
import torch.nn.functional as F

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

# ops with a kink -> (torch function, points at and around it): value and first derivative
KINKS = {
    "clamp_m1_1": (lambda x: torch.clamp(x, -1.0, 1.0), [-1.5, -1.0, 0.0, 1.0, 1.5]),
    "clamp_min0": (lambda x: torch.clamp(x, 0.0, float("inf")), [-1.0, 0.0, 2.0]),
    "relu": (torch.relu, [-1.0, -0.0, 0.0, 1.0]),
    "abs": (torch.abs, [-1.0, -0.0, 0.0, 1.0]),
    "leaky_relu_0.5": (lambda x: F.leaky_relu(x, 0.5), [-1.0, -0.0, 0.0, 1.0]),
    "elu_2": (lambda x: F.elu(x, 2.0), [-1.0, -0.0, 0.0, 1.0]),
    "round": (torch.round, [-2.5, -0.5, 0.5, 1.5, 2.5]),
}
print("# kinks: kink op x y dy/dx")
for name, (f, points) in KINKS.items():
    x = torch.tensor(points, requires_grad=True)
    y = f(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    for row in zip(x.tolist(), y.tolist(), dy.tolist()):
        print("kink", name, " ".join(repr(v) for v in row))
