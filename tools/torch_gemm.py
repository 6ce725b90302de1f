"""PyTorch's and numpy's (OpenBLAS) side of the `gemm` group in benches/mlp_step.rs: GFLOP/s of
f32 and f64 matrix products at 1 and 2 threads.

Run outside the repository's build, in a virtual environment with torch, numpy, threadpoolctl
(unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this command if the machine sets them):
    python tools/torch_gemm.py
"""
import time, sys, numpy as np, torch
def bench(mm, m, k, n, dt):
    a = np.random.rand(m, k).astype(dt); b = np.random.rand(k, n).astype(dt)
    for _ in range(3): mm(a, b)
    best = 1e9
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(5): mm(a, b)
        best = min(best, (time.perf_counter() - t) / 5)
    return 2 * m * k * n / best / 1e9
for threads in (1, 2):
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        for (m, k, n) in [(1000,1000,1000),(100,784,1000),(256,784,2048),(256,2048,2048),(32,144,784)]:
            ns = bench(np.dot, m, k, n, np.float32); nd = bench(np.dot, m, k, n, np.float64)
            tm = lambda a, b: torch.from_numpy(a) @ torch.from_numpy(b)
            ts = bench(tm, m, k, n, np.float32); td = bench(tm, m, k, n, np.float64)
            print(f"threads {threads} {m}x{k}x{n}: numpy s {ns:.1f} d {nd:.1f}; torch s {ts:.1f} d {td:.1f}")
