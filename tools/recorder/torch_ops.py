"""Custom torch ops the recorded modules call, with fake kernels only.

A serving framework calls collectives, quantization, attention and FlashInfer through its own
ops; here they are `torch.ops.tpjit.*` custom ops whose fake (meta) kernels give the exact
output shapes, so FX keeps each one as a single call node and shape propagation needs neither
a GPU nor a process group. Their eager kernels refuse to run: these modules are for recording.
"""
# No `from __future__ import annotations`: custom_op reads the annotations to build schemas.
import torch

NAMESPACE = "tpjit"


def _no_eager(name: str):
    raise NotImplementedError(
        f"{NAMESPACE}::{name} exists for graph recording only; it has a fake kernel, no eager one")


def _define(name: str, fn, fake):
    """Registers fn as NAMESPACE::name with `fake` as its fake/meta kernel (once per process)."""
    qualname = f"{NAMESPACE}::{name}"
    op = torch.library.custom_op(qualname, mutates_args=())(fn)
    op.register_fake(fake)
    return op


# all_gather(x, dim, world_size, group_name): dim `dim` grows world_size times.
def _all_gather(x: torch.Tensor, dim: int, world_size: int, group_name: str) -> torch.Tensor:
    _no_eager("all_gather")


def _all_gather_fake(x, dim, world_size, group_name):
    shape = list(x.shape)
    shape[dim] *= world_size
    return x.new_empty(shape)


# reduce_scatter(x, dim, world_size, group_name): sum over ranks, dim `dim` shrinks world_size times.
def _reduce_scatter(x: torch.Tensor, dim: int, world_size: int, group_name: str) -> torch.Tensor:
    _no_eager("reduce_scatter")


def _reduce_scatter_fake(x, dim, world_size, group_name):
    shape = list(x.shape)
    if shape[dim] % world_size:
        raise ValueError(f"reduce_scatter: dim {dim} of {tuple(shape)} does not divide by {world_size}")
    shape[dim] //= world_size
    return x.new_empty(shape)


def _all_reduce(x: torch.Tensor, group_name: str) -> torch.Tensor:
    _no_eager("all_reduce")


def _all_reduce_fake(x, group_name):
    return x.new_empty(x.shape)


# quantize_fp8(x, granularity) -> (q e4m3 like x, float32 scale):
#   "tensor" -> [1]; "row" -> [rows, 1]; "block128" -> [rows, ceil(cols/128)] (1x128 groups),
# rows = product of all dims but the last. Scales are row-major, as the tpjit kernel ABI takes them.
def _quantize_fp8(x: torch.Tensor, granularity: str) -> tuple[torch.Tensor, torch.Tensor]:
    _no_eager("quantize_fp8")


def _quantize_fp8_fake(x, granularity):
    rows = 1
    for d in x.shape[:-1]:
        rows *= d
    cols = x.shape[-1] if x.dim() else 1
    shapes = {"tensor": (1,), "row": (rows, 1), "block128": (rows, -(-cols // 128))}
    if granularity not in shapes:
        raise ValueError(f"quantize_fp8: granularity {granularity!r} is not one of {sorted(shapes)}")
    q = x.new_empty(x.shape, dtype=torch.float8_e4m3fn)
    return q, x.new_empty(shapes[granularity], dtype=torch.float32)


# bmm_fp8(A [B,M,K], B [B,K,N] col-major per batch, A_scale, B_scale, dtype) -> [B,M,N]:
# FlashInfer's signature (flashinfer.gemm.bmm_fp8), minus its optional out/backend.
def _bmm_fp8(A: torch.Tensor, B: torch.Tensor, A_scale: torch.Tensor, B_scale: torch.Tensor,
             dtype: torch.dtype) -> torch.Tensor:
    _no_eager("bmm_fp8")


def _bmm_fp8_fake(A, B, A_scale, B_scale, dtype):
    if A.dim() != 3 or B.dim() != 3 or A.shape[0] != B.shape[0] or A.shape[2] != B.shape[1]:
        raise ValueError(f"bmm_fp8: A {tuple(A.shape)} and B {tuple(B.shape)} are not [b,m,k] x [b,k,n]")
    return A.new_empty((A.shape[0], A.shape[1], B.shape[2]), dtype=dtype)


# attention(qkv [T, (h + 2*kv)*d], num_heads, num_kv_heads, head_dim) -> [T, h*d] in qkv's dtype.
# Stands for rotary + paged KV-cache write + flash attention, which a framework hides in one op.
def _attention(qkv: torch.Tensor, num_heads: int, num_kv_heads: int, head_dim: int) -> torch.Tensor:
    _no_eager("attention")


def _attention_fake(qkv, num_heads, num_kv_heads, head_dim):
    want = (num_heads + 2 * num_kv_heads) * head_dim
    if qkv.shape[-1] != want:
        raise ValueError(f"attention: qkv has {qkv.shape[-1]} columns, heads need {want}")
    return qkv.new_empty((*qkv.shape[:-1], num_heads * head_dim))


# silu_and_mul(x [T, 2*I]) -> [T, I]: silu(x[:, :I]) * x[:, I:], vLLM's fused activation.
def _silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    _no_eager("silu_and_mul")


def _silu_and_mul_fake(x):
    if x.shape[-1] % 2:
        raise ValueError(f"silu_and_mul: last dim {x.shape[-1]} is odd")
    return x.new_empty((*x.shape[:-1], x.shape[-1] // 2))


# scaled_mm: used only when torch._scaled_mm's own meta kernel refuses a configuration
# (record.py says so in the graph's meta). Same operands and result shape as torch._scaled_mm.
def _scaled_mm(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor,
               out_dtype: torch.dtype) -> torch.Tensor:
    _no_eager("scaled_mm")


def _scaled_mm_fake(a, b, scale_a, scale_b, out_dtype):
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"scaled_mm: a {tuple(a.shape)} and b {tuple(b.shape)} do not multiply")
    return a.new_empty((a.shape[0], b.shape[1]), dtype=out_dtype)


all_gather = _define("all_gather", _all_gather, _all_gather_fake)
reduce_scatter = _define("reduce_scatter", _reduce_scatter, _reduce_scatter_fake)
all_reduce = _define("all_reduce", _all_reduce, _all_reduce_fake)
quantize_fp8 = _define("quantize_fp8", _quantize_fp8, _quantize_fp8_fake)
bmm_fp8 = _define("bmm_fp8", _bmm_fp8, _bmm_fp8_fake)
attention = _define("attention", _attention, _attention_fake)
silu_and_mul = _define("silu_and_mul", _silu_and_mul, _silu_and_mul_fake)
scaled_mm = _define("scaled_mm", _scaled_mm, _scaled_mm_fake)
