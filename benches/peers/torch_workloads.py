"""The workloads of benches/peers on PyTorch (CPU, float64): `NAME N SECONDS CHECKSUM` per line,
the median of the repetitions after one warm-up. Run by `cargo run --release` in benches/peers;
needs `pip install torch` (in a virtual environment outside the repository)."""
import statistics
import time

import torch

torch.set_default_dtype(torch.float64)


def chain(n):
    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 0.999 + x
    y.backward()
    return x.grad.item()


def goldstein_f(x, y):
    return (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x ** 2 - 14 * y + 6 * x * y + 3 * y ** 2)) * (
        30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x ** 2 + 48 * y - 36 * x * y + 27 * y ** 2))


def goldstein(n):
    checksum = 0.0
    for _ in range(n):
        x = torch.tensor(1.0, requires_grad=True)
        y = torch.tensor(1.0, requires_grad=True)
        goldstein_f(x, y).backward()
        checksum = x.grad.item() + y.grad.item()
    return checksum


def wide(n):
    x = torch.tensor(1.0, requires_grad=True)
    terms = [x * float(i) for i in range(n)]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    terms[0].backward()
    return x.grad.item()


def elem(n):
    x = torch.linspace(-1.0, 1.0, n).requires_grad_()
    y = x * x * 0.5 + x.exp() - x
    y.sum().backward()
    return x.grad.sum().item()


WORKLOADS = [(chain, 100_000, 5), (goldstein, 1_000, 5), (wide, 2_000, 11), (elem, 1_000_000, 5)]

for f, n, reps in WORKLOADS:
    try:
        checksum = f(n)
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            f(n)
            times.append(time.perf_counter() - t)
        print(f.__name__, n, statistics.median(times), checksum)
    except RecursionError:
        print(f.__name__, n, "failed", "nan")
