#!/usr/bin/env python3
"""Records tensor-parallel Llama-3 blocks traced from real torch modules as tpjit.graph/1 JSON.

    python3 tools/recorder/record.py --out tests/data/graphs [--only NAME ...]
    python3 tools/recorder/record.py --list
    python3 tools/recorder/record.py --self-check [FILE_OR_DIR ...]   # no torch needed

Recording needs torch (2.11 is what the graphs were made with) but no GPU and no process
group: collectives and the other framework ops are custom ops with fake kernels, and shapes
come from ShapeProp under FakeTensorMode at two token counts. Every graph is checked against
the contract before it is written; a graph that fails is reported with its stage, traceback
and FX graph, and the others are still written.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import contract  # noqa: E402
import graphspec as gs  # noqa: E402

RECORDER_VERSION = "tpjit-recorder 1"
DEFAULT_M = (3072, 5120)   # distinct, divisible by 8, and equal to no weight dim
TORCH_TARGET = "2.11"


def write_atomic(path: str, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def bindings_for(graph) -> list:
    """Token counts to check a graph at: its recorded ones, else DEFAULT_M."""
    m_values = (graph.get("meta") or {}).get("trace", {}).get("m_values") or list(DEFAULT_M)
    return [{s: m for s in graph.get("symbols", [])} for m in m_values]


def self_check(paths) -> int:
    """Validates JSON files (or every *.json in a folder) against the contract; 0 if all pass."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".json"))
        else:
            files.append(p)
    if not files:
        print(f"self-check: no .json files under {paths}")
        return 1
    failed = 0
    for f in files:
        try:
            with open(f) as fh:
                graph = json.load(fh)
            problems = contract.check_graph(graph, bindings_for(graph))
        except (OSError, ValueError) as e:
            problems = [f"cannot read: {e}"]
        if problems:
            failed += 1
            print(f"FAIL {f}")
            for line in problems:
                print(f"  {line}")
        else:
            print(f"ok   {f} ({len(graph['nodes'])} nodes, {len(graph['tensors'])} tensors)")
    print(f"{len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _check_gemms(spec, graph) -> list:
    """The B operands' [K, N] must be the model's per-rank GEMM sizes, in order."""
    decl = {t["name"]: t for t in graph["tensors"]}
    seen = []
    for n in graph["nodes"]:
        if n["op"] in ("scaled_mm", "bmm_fp8"):
            seen.append(tuple(decl[n["inputs"][1]]["shape"][-2:]))
    want = [tuple(kn) for kn in spec.gemm_dims()]
    return [] if seen == want else [f"GEMM B operands {seen} != model's per-rank [K, N] {want}"]


def record_one(spec, m_values, out_dir, torch):
    import fx_export
    import fx_map

    scaled_mm = "torch._scaled_mm"
    try:
        traced = fx_export.trace(spec, m_values, "torch")
    except fx_export.RecordError as e:
        if e.stage != "shape-prop" or e.node is None or e.node.target is not torch._scaled_mm:
            raise
        print(f"warning: {spec.name}: torch._scaled_mm's meta kernel refused node {e.node.name}; "
              f"recording with the tpjit::scaled_mm stand-in instead. Its error:\n  {e.cause}")
        scaled_mm = f"tpjit::scaled_mm (torch._scaled_mm's meta kernel refused: {e.cause[:300]})"
        traced = fx_export.trace(spec, m_values, "custom")
    try:
        graph, extra = fx_map.to_graph(spec, traced)
    except Exception:
        print(f"FX graph of {spec.name}:\n{traced.gm.graph}", file=sys.stderr)
        raise
    meta = {
        "recorder": RECORDER_VERSION,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "model": spec.model_meta(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([sys.argv[0]] + sys.argv[1:]),
        "trace": {"method": "torch.fx.Tracer + ShapeProp under FakeTensorMode, two token counts",
                  "fake_device": traced.device, "m_values": list(m_values),
                  "scaled_mm": scaled_mm},
        "notes": spec.notes,
    }
    if spec.why:
        meta["why"] = spec.why
    meta.update(extra)
    graph["meta"] = meta
    problems = contract.check_graph(graph, [{"M": m} for m in m_values]) + _check_gemms(spec, graph)
    if problems:
        print(f"FX graph of {spec.name}:\n{traced.gm.graph}", file=sys.stderr)
        raise fx_export.RecordError("self-check", "the graph breaks the contract:\n  "
                                    + "\n  ".join(problems))
    path = os.path.join(out_dir, f"{spec.name}.json")
    write_atomic(path, gs.dumps_graph(graph))
    print(f"wrote {path} ({len(graph['nodes'])} nodes, {len(graph['tensors'])} tensors)")
    for line in extra.get("unexpected_opaque_ops", []):
        print(f"  note: {line}")


def record(args) -> int:
    try:
        import torch
    except ImportError as e:
        print(f"error: recording needs torch ({e}); install it (pip install torch=={TORCH_TARGET}.0) "
              "or use --self-check, which does not", file=sys.stderr)
        return 2
    if not torch.__version__.startswith(TORCH_TARGET):
        print(f"warning: torch {torch.__version__}; these graphs were designed against {TORCH_TARGET}")
    try:
        import models
    except Exception:
        traceback.print_exc()
        print("error: defining the tpjit custom ops or the modules failed (see above); this is a "
              f"torch.library API difference in torch {torch.__version__}", file=sys.stderr)
        return 2
    specs = models.graph_set()
    known = [s.name for s in specs]
    unknown = [n for n in args.only or [] if n not in known]
    if unknown:
        print(f"error: unknown graph names {unknown}; --list shows them", file=sys.stderr)
        return 2
    chosen = [s for s in specs if not args.only or s.name in args.only]
    failed = []
    for spec in chosen:
        try:
            record_one(spec, tuple(args.m), args.out, torch)
        except Exception as e:
            traceback.print_exc()
            stage = getattr(e, "stage", "unexpected")
            print(f"FAILED {spec.name} [{stage}]: {type(e).__name__}: {e}", file=sys.stderr)
            failed.append(spec.name)
    print(f"{len(chosen) - len(failed)} passed, {len(failed)} failed"
          + (f": {' '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default="tests/data/graphs", help="folder to write <name>.json into")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="record only these graphs")
    ap.add_argument("--list", action="store_true", help="list the graph names and exit")
    ap.add_argument("--m", nargs=2, type=int, default=list(DEFAULT_M), metavar=("M1", "M2"),
                    help=f"the two token counts traced (default {DEFAULT_M[0]} {DEFAULT_M[1]})")
    ap.add_argument("--self-check", nargs="*", metavar="PATH",
                    help="check JSON files or folders (default: --out) against the contract")
    args = ap.parse_args(argv)
    if args.self_check is not None:
        return self_check(args.self_check or [args.out])
    if args.m[0] == args.m[1] or any(m <= 0 or m % 8 for m in args.m):
        ap.error("--m needs two distinct positive multiples of 8")
    if args.list:
        try:
            import models
        except ImportError as e:
            print(f"error: listing needs torch ({e})", file=sys.stderr)
            return 2
        for s in models.graph_set():
            print(f"{s.name:34} {s.notes}")
        return 0
    return record(args)


if __name__ == "__main__":
    sys.exit(main())
