"""PyTorch's side of `examples/peer_rates.rs mlp`: one training step of two MLPs on the batches
of examples/support/mlp_step.rs, f32:
- 784-1000-10, sigmoid, softmax cross entropy, SGD, batch 100 (benches/mlp_step.rs's step);
- 784-2048-2048-10, relu, softmax cross entropy, Adam, batch 256.

Run outside the repository's build, in a virtual environment with torch:
    python tools/torch_mlp_step.py          # median time per step at 1 and 2 threads, in ms
"""

import statistics
import time

import torch


def batch(n, d, classes):
    i = torch.arange(n).unsqueeze(1)
    j = torch.arange(d).unsqueeze(0)
    x = ((i * 31 + j * 17) % 97).to(torch.float32) / 97.0
    t = (torch.arange(n) * 7) % classes
    return x, t


def median_step(n, widths, activation, optimizer):
    x, t = batch(n, 784, 10)
    layers, d = [], 784
    for k, w in enumerate(widths):
        layers.append(torch.nn.Linear(d, w))
        if k + 1 < len(widths):
            layers.append(activation())
        d = w
    model = torch.nn.Sequential(*layers)
    opt = optimizer(model.parameters())

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), t)
        loss.backward()
        opt.step()

    for _ in range(50):
        step()
    times = []
    end = time.perf_counter() + 4.0
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    print("torch", torch.__version__)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        small = median_step(
            100, [1000, 10], torch.nn.Sigmoid, lambda p: torch.optim.SGD(p, lr=0.01)
        )
        print(f"threads {threads}: mlp_step 784-1000-10 {small:.3f} ms")
        large = median_step(
            256, [2048, 2048, 10], torch.nn.ReLU, lambda p: torch.optim.Adam(p, lr=0.001)
        )
        print(f"threads {threads}: mlp_step 784-2048-2048-10 {large:.3f} ms")


if __name__ == "__main__":
    main()
