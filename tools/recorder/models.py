"""Tensor-parallel Llama-3 blocks written as a serving framework writes them, and the graph set.

Sequence parallel: each rank holds M/tp token rows; a block gathers them (all_gather, dim 0),
runs its column-parallel GEMM, the opaque middle op, quantizes, runs its row-parallel GEMM and
reduce-scatters the partial sums back to M/tp rows. Weights are inputs, not parameters, so they
appear in the graph: each is handed over as torch._scaled_mm takes it, the [K, N] transposed
view (col-major) of a weight stored [N, K].
"""
import dataclasses
from typing import Callable, Optional

import torch
from torch import nn

import torch_ops as ops

FP8 = torch.float8_e4m3fn
F32 = torch.float32
BF16 = torch.bfloat16


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int


LLAMA3_8B = ModelConfig("llama3-8b", 4096, 32, 8, 128, 14336)
LLAMA3_70B = ModelConfig("llama3-70b", 8192, 64, 8, 128, 28672)


class Gather(nn.Module):
    def __init__(self, world: int, dim: int = 0):
        super().__init__()
        self.world, self.dim = world, dim

    def forward(self, x):
        return ops.all_gather(x, self.dim, self.world, "tp")


class Scatter(nn.Module):
    def __init__(self, world: int, dim: int = 0):
        super().__init__()
        self.world, self.dim = world, dim

    def forward(self, x):
        return ops.reduce_scatter(x, self.dim, self.world, "tp")


class Fp8Linear(nn.Module):
    """y = x @ w with fp8 operands; w is the col-major [K, N] view. impl: "torch" | "custom"."""

    def __init__(self, impl: str = "torch"):
        super().__init__()
        self.impl = impl

    def forward(self, x, w, x_scale, w_scale):
        if self.impl == "torch":
            return torch._scaled_mm(x, w, scale_a=x_scale, scale_b=w_scale, out_dtype=BF16)
        return ops.scaled_mm(x, w, x_scale, w_scale, BF16)


class FlashInferLinear(nn.Module):
    """vLLM's FlashInfer FP8 path: bmm_fp8 on batch-1 views, then viewed back to 2-D."""

    def forward(self, x, w, x_scale, w_scale):
        y = ops.bmm_fp8(x.unsqueeze(0), w.unsqueeze(0), x_scale, w_scale, BF16)
        return y.view(x.shape[0], w.shape[1])


class Quant(nn.Module):
    def __init__(self, granularity: str):
        super().__init__()
        self.granularity = granularity

    def forward(self, x):
        return ops.quantize_fp8(x, self.granularity)


class Attention(nn.Module):
    def __init__(self, heads: int, kv_heads: int, head_dim: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim

    def forward(self, qkv):
        return ops.attention(qkv, self.heads, self.kv_heads, self.head_dim)


class SiluAndMul(nn.Module):
    def forward(self, x):
        return ops.silu_and_mul(x)


def _linear(kind: str, impl: str) -> nn.Module:
    return FlashInferLinear() if kind == "flashinfer" else Fp8Linear(impl)


class AttnBlock(nn.Module):
    """all_gather -> qkv_proj -> attention -> quantize -> o_proj -> reduce_scatter."""

    def __init__(self, cfg: ModelConfig, tp: int, scale: str, linear: str, impl: str):
        super().__init__()
        self.scale = scale
        self.gather = Gather(tp)
        self.gather_scale = Gather(tp)
        self.qkv_proj = _linear(linear, impl)
        self.attn = Attention(cfg.heads // tp, cfg.kv_heads // tp, cfg.head_dim)
        self.quant = Quant({"tensor": "tensor", "row": "row", "block": "block128"}[scale])
        self.o_proj = _linear(linear, impl)
        self.scatter = Scatter(tp)

    def forward(self, x_shard, x_scale, w_qkv, w_qkv_scale, w_o, w_o_scale):
        x = self.gather(x_shard)
        # Per-token and per-group activation scales travel with their rows.
        sx = x_scale if self.scale == "tensor" else self.gather_scale(x_scale)
        qkv = self.qkv_proj(x, w_qkv, sx, w_qkv_scale)
        attn = self.attn(qkv)
        q, q_scale = self.quant(attn)
        o = self.o_proj(q, w_o, q_scale, w_o_scale)
        return self.scatter(o)


class MlpBlock(nn.Module):
    """all_gather -> gate_up_proj -> silu_and_mul -> quantize -> down_proj -> reduce_scatter.

    rank3: x_shard is [M/tp, 1, hidden] and the result goes back to that form.
    tap: the unreduced down_proj partial sum is also returned (a debug/residual tap).
    gather_dim 1: x_shard is sharded on hidden ([M, hidden/tp]), gathered on dim 1.
    """

    def __init__(self, cfg: ModelConfig, tp: int, scale: str, impl: str, rank3: bool = False,
                 tap: bool = False, gather_dim: int = 0):
        super().__init__()
        self.scale, self.rank3, self.tap, self.hidden = scale, rank3, tap, cfg.hidden
        self.gather = Gather(tp, gather_dim)
        self.gather_scale = Gather(tp)
        self.gate_up_proj = Fp8Linear(impl)
        self.act = SiluAndMul()
        self.quant = Quant({"tensor": "tensor", "row": "row", "block": "block128"}[scale])
        self.down_proj = Fp8Linear(impl)
        self.scatter = Scatter(tp)

    def forward(self, x_shard, x_scale, w_gate_up, w_gate_up_scale, w_down, w_down_scale):
        x = self.gather(x_shard)
        if self.rank3:
            x = x.reshape(-1, self.hidden)
        sx = x_scale if self.scale == "tensor" else self.gather_scale(x_scale)
        h = self.gate_up_proj(x, w_gate_up, sx, w_gate_up_scale)
        a = self.act(h)
        q, q_scale = self.quant(a)
        d = self.down_proj(q, w_down, q_scale, w_down_scale)
        y = self.scatter(d)
        if self.rank3:
            y = y.unsqueeze(1)
        if self.tap:
            return y, d
        return y


@dataclasses.dataclass
class InputSpec:
    name: str
    shape: Callable[[int], tuple]   # M -> concrete shape
    dtype: torch.dtype
    col_major: bool = False          # made as the .t() view of a row-major [N, K] tensor


@dataclasses.dataclass
class GraphSpec:
    name: str
    cfg: ModelConfig
    tp: int
    block: str                       # "attn" | "mlp"
    scale: str = "tensor"            # "tensor" | "row" | "block"
    linear: str = "scaled_mm"        # "scaled_mm" | "flashinfer"
    rank3: bool = False
    tap: bool = False
    gather_dim: int = 0
    output_names: tuple = ("y",)
    notes: str = ""
    why: Optional[list] = None       # for graphs that must not fuse: the reasons

    def build(self, impl: str = "torch") -> nn.Module:
        if self.block == "attn":
            return AttnBlock(self.cfg, self.tp, self.scale, self.linear, impl)
        return MlpBlock(self.cfg, self.tp, self.scale, impl, self.rank3, self.tap, self.gather_dim)

    def gemm_dims(self) -> list:
        """[(K, N)] of the two GEMMs per rank, in graph order."""
        c, tp = self.cfg, self.tp
        if self.block == "attn":
            qkv_n = (c.heads + 2 * c.kv_heads) * c.head_dim // tp
            return [(c.hidden, qkv_n), (c.heads * c.head_dim // tp, c.hidden)]
        return [(c.hidden, 2 * c.intermediate // tp), (c.intermediate // tp, c.hidden)]

    def inputs(self) -> list:
        c, tp = self.cfg, self.tp
        (k1, n1), (k2, n2) = self.gemm_dims()
        if self.gather_dim == 1:
            x = InputSpec("x_shard", lambda m: (m, c.hidden // tp), FP8)
        elif self.rank3:
            x = InputSpec("x_shard", lambda m: (m // tp, 1, c.hidden), FP8)
        else:
            x = InputSpec("x_shard", lambda m: (m // tp, c.hidden), FP8)
        w1, w2 = ("w_qkv", "w_o") if self.block == "attn" else ("w_gate_up", "w_down")
        kb = lambda k: -(-k // 128)  # noqa: E731
        if self.scale == "tensor":
            sx = InputSpec("x_scale", lambda m: (), F32)
            s1 = InputSpec(f"{w1}_scale", lambda m: (), F32)
            s2 = InputSpec(f"{w2}_scale", lambda m: (), F32)
        elif self.scale == "row":     # per token / per output channel
            sx = InputSpec("x_scale", lambda m: (m // tp, 1), F32)
            s1 = InputSpec(f"{w1}_scale", lambda m: (1, n1), F32)
            s2 = InputSpec(f"{w2}_scale", lambda m: (1, n2), F32)
        else:                         # 1x128 activation groups, 128x128 weight blocks
            sx = InputSpec("x_scale", lambda m: (m // tp, kb(k1)), F32)
            s1 = InputSpec(f"{w1}_scale", lambda m: (kb(k1), kb(n1)), F32)
            s2 = InputSpec(f"{w2}_scale", lambda m: (kb(k2), kb(n2)), F32)
        return [x, sx,
                InputSpec(w1, lambda m: (k1, n1), FP8, col_major=True), s1,
                InputSpec(w2, lambda m: (k2, n2), FP8, col_major=True), s2]

    def model_meta(self) -> dict:
        names = ("qkv_proj", "o_proj") if self.block == "attn" else ("gate_up_proj", "down_proj")
        return {**dataclasses.asdict(self.cfg), "tp": self.tp, "block": self.block,
                "scale": self.scale, "linear": self.linear,
                "gemms_per_rank": {n: {"k": k, "n": nn_} for n, (k, nn_) in
                                   zip(names, self.gemm_dims())}}


def graph_set() -> list:
    """Every graph the recorder writes, in order."""
    specs = []
    for cfg in (LLAMA3_8B, LLAMA3_70B):
        for block in ("attn", "mlp"):
            for tp in (2, 4, 8):
                specs.append(GraphSpec(f"{cfg.name}-{block}-tp{tp}", cfg, tp, block,
                                       notes="per-tensor scales"))
    specs += [
        GraphSpec("llama3-70b-mlp-tp2-rowwise", LLAMA3_70B, 2, "mlp", scale="row",
                  notes="row-wise scales: activations per token ([rows,1], gathered with their "
                        "rows), weights per output channel ([1,N])"),
        GraphSpec("llama3-70b-attn-tp2-blockscale", LLAMA3_70B, 2, "attn", scale="block",
                  notes="DeepSeek-style block scales: activations 1x128 groups ([rows,K/128], "
                        "gathered with their rows), weights 128x128 blocks ([K/128,N/128]); "
                        "scales row-major as the tpjit kernel ABI takes them (torch's cuBLAS "
                        "path wants 1x128 scales outer-dim-major; its meta kernel does not check)"),
        GraphSpec("llama3-8b-attn-tp2-flashinfer", LLAMA3_8B, 2, "attn", linear="flashinfer",
                  notes="FlashInfer form as vLLM calls it: bmm_fp8(x.unsqueeze(0), "
                        "w.unsqueeze(0), ...).view(x.shape[0], w.shape[1]) for both GEMMs"),
        GraphSpec("llama3-70b-mlp-tp2-nofuse", LLAMA3_70B, 2, "mlp", tap=True, gather_dim=1,
                  output_names=("y", "down_partial"),
                  notes="must not fuse; see why",
                  why=["the all_gather is on dim 1 (x sharded on hidden, [M, hidden/tp]): the "
                       "gathered pieces are column blocks of A, not row blocks, so gate_up_proj "
                       "cannot start on the local shard's rows",
                       "the down_proj partial sum has a second user (graph output "
                       "'down_partial', a debug/residual tap of the unreduced result), so the "
                       "GEMM cannot be folded into the reduce_scatter"]),
        GraphSpec("llama3-8b-mlp-tp2-3d", LLAMA3_8B, 2, "mlp", rank3=True,
                  notes="3-D activations: x_shard [M/tp, 1, hidden] gathered on dim 0, reshaped "
                        "to [M, hidden]; the result unsqueezed back to [M/tp, 1, hidden]"),
    ]
    return specs
