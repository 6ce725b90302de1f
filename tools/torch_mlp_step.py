"""PyTorch's side of benches/mlp_step.rs: one SGD step of an MLP 784-1000-10 (sigmoid, softmax
cross entropy, batch 100, f32), the same batch as examples/support/mlp_step.rs.

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


def main():
    x, t = batch(100, 784, 10)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 1000), torch.nn.Sigmoid(), torch.nn.Linear(1000, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), t)
        loss.backward()
        opt.step()

    print("torch", torch.__version__)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for _ in range(50):
            step()
        times = []
        end = time.perf_counter() + 4.0
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        print(f"threads {threads}: mlp_step {statistics.median(times) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
