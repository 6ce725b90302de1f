"""PyTorch's side of benches/stage5.rs: conv2d and an LSTMCell step, forward + backward, f32.

Run outside the repository's build, in a virtual environment with torch:
    python tools/torch_stage5.py            # both thread counts, 1 and 2
Prints the median time per iteration of each, in microseconds.
"""

import statistics
import time

import torch


def fill(shape, seed):
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.int64)
    v = ((i * 7919 + seed * 104729) % 2001).to(torch.float32) / 1000.0 - 1.0
    return v.reshape(shape)


def timed(step, seconds=3.0):
    for _ in range(20):
        step()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def conv():
    x = fill([32, 16, 28, 28], 1).requires_grad_()
    w = (fill([32, 16, 3, 3], 2) * 0.1).requires_grad_()
    b = fill([32], 3).requires_grad_()

    def step():
        x.grad = w.grad = b.grad = None
        torch.nn.functional.conv2d(x, w, b, stride=1, padding=1).sum().backward()

    return step


def lstm():
    cell = torch.nn.LSTMCell(64, 128)
    x = fill([32, 64], 4).requires_grad_()
    h, c = cell(x)
    h, c = h.detach(), c.detach()

    def step():
        nonlocal h, c
        cell.zero_grad()
        x.grad = None
        h1, c1 = cell(x, (h, c))
        h1.sum().backward()
        h, c = h1.detach(), c1.detach()

    return step


if __name__ == "__main__":
    print(f"torch {torch.__version__}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        print(f"threads {threads}: conv2d {timed(conv()):.0f} us, lstm_step {timed(lstm()):.0f} us")
