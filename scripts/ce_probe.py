# Copy-engine probe for bench/RESULTS.md (seventh run): peer-copy bandwidth between GPU 0 and 1,
# one way and both ways, and a cuBLASLt FP8 GEMM (torch._scaled_mm) alone and beside copies both
# ways. Needs torch and two GPUs with peer access: python3 scripts/ce_probe.py
import torch
torch.cuda.init()


def ev():
    return torch.cuda.Event(enable_timing=True)


print("peer access", torch.cuda.can_device_access_peer(0, 1))
for size in (8 << 20, 16 << 20, 32 << 20, 64 << 20):
    x0 = torch.empty(size, dtype=torch.uint8, device="cuda:0"); y1 = torch.empty_like(x0, device="cuda:1")
    x1 = torch.empty(size, dtype=torch.uint8, device="cuda:1"); y0 = torch.empty_like(x1, device="cuda:0")
    s0 = torch.cuda.Stream(0); s1 = torch.cuda.Stream(1)
    def one():
        with torch.cuda.stream(s0): y1.copy_(x0, non_blocking=True)
    def both():
        with torch.cuda.stream(s0): y1.copy_(x0, non_blocking=True)
        with torch.cuda.stream(s1): y0.copy_(x1, non_blocking=True)
    def t(fn, iters=20):
        import time
        fn(); torch.cuda.synchronize(0); torch.cuda.synchronize(1)
        t0 = time.perf_counter()
        for _ in range(iters): fn()
        torch.cuda.synchronize(0); torch.cuda.synchronize(1)
        return (time.perf_counter() - t0) * 1e6 / iters
    u = t(one); bi = t(both)
    print(f"{size>>20:3d} MiB: one way {u:7.1f} us {size/u/1e3:6.1f} GB/s; both ways {bi:7.1f} us {size/bi/1e3:6.1f} GB/s each")
# GEMM on GPU0 (o at M=2048 rows: K=4096, N=8192) with and without copies in and out
M, K, Nn = 2048, 4096, 8192
with torch.cuda.device(0):
    A = torch.randn(M, K, device="cuda:0").to(torch.float8_e4m3fn)
    B = torch.randn(Nn, K, device="cuda:0").to(torch.float8_e4m3fn)
    one_ = torch.ones((), device="cuda:0")
    g = lambda: torch._scaled_mm(A, B.t(), scale_a=one_, scale_b=one_, out_dtype=torch.bfloat16)
    for _ in range(5): g()
    torch.cuda.synchronize(0)
    a, b = ev(), ev(); a.record()
    for _ in range(20): g()
    b.record(); torch.cuda.synchronize(0)
    alone = a.elapsed_time(b) * 1000 / 20
size = 1024 << 20
x0 = torch.empty(size, dtype=torch.uint8, device="cuda:0"); y1 = torch.empty_like(x0, device="cuda:1")
x1 = torch.empty(size, dtype=torch.uint8, device="cuda:1"); y0 = torch.empty_like(x1, device="cuda:0")
s0 = torch.cuda.Stream(0); s1 = torch.cuda.Stream(1)
torch.cuda.synchronize(0); torch.cuda.synchronize(1)
with torch.cuda.stream(s0): y1.copy_(x0, non_blocking=True)
with torch.cuda.stream(s1): y0.copy_(x1, non_blocking=True)
with torch.cuda.device(0):
    a, b = ev(), ev(); a.record()
    for _ in range(20): g()
    b.record(); torch.cuda.synchronize(0)
    busy = a.elapsed_time(b) * 1000 / 20
torch.cuda.synchronize(1)
print(f"GEMM {M}x{Nn}x{K} on GPU0: alone {alone:.1f} us, beside 1 GiB copies both ways {busy:.1f} us ({busy/alone:.3f}x)")
