"""The recorder's pure-Python parts (dims, writer, contract self-check) and, with torch, tracing."""
import contextlib
import copy
import importlib.util
import io
import json
import os
import sys
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "recorder"))

import contract  # noqa: E402
import graphspec as gs  # noqa: E402
import record  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None
GRAPHS = os.path.join(ROOT, "tests", "data", "graphs")


def t(name, shape, dtype="bfloat16", layout="row_major"):
    return {"name": name, "shape": shape, "dtype": dtype, "layout": layout}


def small_graph():
    """all_gather -> scaled_mm -> quantize_fp8 -> scaled_mm -> reduce_scatter, tp=2."""
    return {
        "format": "tpjit.graph/1", "name": "tiny-tp2", "group": {"name": "tp", "world_size": 2},
        "symbols": ["M"],
        "tensors": [
            t("x_shard", ["M/2", 256], "float8_e4m3fn"), t("sx", [], "float32"),
            t("w1", [256, 384], "float8_e4m3fn", "col_major"), t("s1", [], "float32"),
            t("w2", [384, 256], "float8_e4m3fn", "col_major"), t("s2", [1], "float32"),
            t("x", ["M", 256], "float8_e4m3fn"), t("h", ["M", 384]),
            t("q", ["M", 384], "float8_e4m3fn"), t("qs", ["M", 1], "float32"),
            t("s2r", [1, 256], "float32"), t("d", ["M", 256]), t("y", ["M/2", 256]),
        ],
        "inputs": ["x_shard", "sx", "w1", "s1", "w2", "s2"], "outputs": ["y"],
        "nodes": [
            {"name": "ag", "op": "all_gather", "inputs": ["x_shard"], "outputs": ["x"],
             "attrs": {"dim": 0}},
            {"name": "mm1", "op": "scaled_mm", "inputs": ["x", "w1", "sx", "s1"], "outputs": ["h"],
             "attrs": {"out_dtype": "bfloat16"}},
            {"name": "qz", "op": "quantize_fp8", "inputs": ["h"], "outputs": ["q", "qs"],
             "attrs": {"granularity": "row"}},
            {"name": "s2_row", "op": "opaque_expand", "inputs": ["s2"], "outputs": ["s2r"]},
            {"name": "mm2", "op": "scaled_mm", "inputs": ["q", "w2", "qs", "s2r"], "outputs": ["d"],
             "attrs": {"out_dtype": "bfloat16"}},
            {"name": "rs", "op": "reduce_scatter", "inputs": ["d"], "outputs": ["y"],
             "attrs": {"dim": 0, "op": "sum"}},
        ],
        "meta": {},
    }


def problems(graph, ms=(3072, 5120)):
    return contract.check_graph(graph, [{"M": m} for m in ms])


class Dims(unittest.TestCase):
    def test_derive(self):
        self.assertEqual(gs.derive_dim(4096, 4096, 3072, 5120), 4096)
        self.assertEqual(gs.derive_dim(3072, 5120, 3072, 5120), "M")
        self.assertEqual(gs.derive_dim(1536, 2560, 3072, 5120), "M/2")
        self.assertEqual(gs.derive_dim(384, 640, 3072, 5120), "M/8")
        self.assertEqual(gs.derive_dim(6144, 10240, 3072, 5120), "2*M")
        self.assertEqual(gs.derive_dim(4608, 7680, 3072, 5120), "3*M/2")
        self.assertEqual(gs.derive_shape([1536, 1, 4096], [2560, 1, 4096], 3072, 5120),
                         ["M/2", 1, 4096])

    def test_derive_refuses_affine_and_equal_counts(self):
        with self.assertRaises(gs.DimError):
            gs.derive_dim(3073, 5121, 3072, 5120)   # M + 1 has no expression
        with self.assertRaises(gs.DimError):
            gs.derive_dim(1, 2, 8, 8)
        with self.assertRaises(gs.DimError):
            gs.derive_shape([1, 2], [1], 8, 16)

    def test_eval_and_grammar(self):
        self.assertEqual(gs.eval_dim("B*S/4", {"B": 2, "S": 8}), 4)
        self.assertEqual(gs.eval_dim("2*M", {"M": 5}), 10)
        self.assertEqual(gs.eval_dim(7, {}), 7)
        for bad in ("M+1", "M/0", "", "M//2", "2M", "M*", -1, True, 1.5):
            with self.assertRaises(gs.DimError, msg=repr(bad)):
                gs.eval_dim(bad, {"M": 8})
        with self.assertRaises(gs.DimError):
            gs.eval_dim("M/3", {"M": 8})              # must divide exactly
        with self.assertRaises(gs.DimError):
            gs.eval_dim("N", {"M": 8})                # unbound symbol
        self.assertEqual(gs.dim_symbols("B*S/4"), ["B", "S"])

    def test_sanitize(self):
        self.assertEqual(gs.sanitize_name("_scaled_mm"), "scaled_mm")
        self.assertEqual(gs.sanitize_name("layers.0.qkv_proj"), "layers_0_qkv_proj")
        self.assertEqual(gs.sanitize_name("0abc"), "t_0abc")
        self.assertEqual(gs.sanitize_name("..."), "t")


class Writer(unittest.TestCase):
    def test_round_trip_and_key_order(self):
        g = small_graph()
        g["meta"] = {"torch": "2.11.0", "trace": {"m_values": [3072, 5120]}}
        text = gs.dumps_graph(g)
        self.assertEqual(json.loads(text), g)
        keys = list(json.loads(text).keys())
        self.assertEqual(keys[:4], ["format", "name", "group", "symbols"])
        self.assertIn('\n    {"name": "ag", "op": "all_gather"', text)  # one node per line


class SelfCheck(unittest.TestCase):
    def test_valid_graph_passes(self):
        self.assertEqual(problems(small_graph()), [])

    def assert_problem(self, graph, needle):
        found = problems(graph)
        self.assertTrue(any(needle in p for p in found), f"{needle!r} not in {found}")

    def test_k_mismatch(self):
        g = small_graph()
        g["tensors"][2]["shape"] = [128, 384]
        self.assert_problem(g, "K mismatch")

    def test_b_must_be_col_major(self):
        g = small_graph()
        g["tensors"][2]["layout"] = "row_major"
        self.assert_problem(g, "b col_major")

    def test_scale_modes(self):
        g = small_graph()
        g["tensors"][9]["shape"] = ["M", 2]                      # neither row nor block
        self.assert_problem(g, "scale must be float32 of shape")
        self.assert_problem(g, "match no scale mode")

    def test_gather_and_scatter_shapes(self):
        g = small_graph()
        g["tensors"][6]["shape"] = ["M/2", 256]
        self.assert_problem(g, "output shape")
        g = small_graph()
        g["tensors"][0]["shape"] = ["M/4", 256]
        self.assert_problem(g, "nodes[0] 'ag'")

    def test_division_checked_at_each_binding(self):
        found = problems(small_graph(), ms=(3072, 5121))   # M/2 fails at the second only
        self.assertTrue(any("does not divide" in p and "5121" in p for p in found), found)

    def test_structure(self):
        g = small_graph()
        g["tensors"][0]["shape"] = ["N/2", 256]
        self.assert_problem(g, "not listed in 'symbols'")
        g = small_graph()
        g["nodes"][1]["inputs"][0] = "q"                           # used before it is made
        self.assert_problem(g, "used before")
        g = small_graph()
        g["nodes"].append(copy.deepcopy(g["nodes"][0]))
        self.assert_problem(g, "duplicate node name")
        g = small_graph()
        g["tensors"][1]["dtype"] = "float64"
        self.assert_problem(g, "dtype 'float64'")
        g = small_graph()
        g["tensors"][7]["layout"] = "col_major"
        g["tensors"][7]["shape"] = [1, "M", 384]
        self.assert_problem(g, "2-D tensors only")
        self.assertEqual(contract.check_graph([1]), ["graph: expected a JSON object, got list"])

    def test_views_and_bmm(self):
        g = small_graph()
        g["tensors"] += [t("x3", [1, "M", 256], "float8_e4m3fn"),
                         t("w3", [1, 256, 384], "float8_e4m3fn"), t("o3", [1, "M", 384]),
                         t("o2", ["M", 384]), t("f", ["M", 384])]
        g["nodes"][2:2] = [
            {"name": "ux", "op": "unsqueeze", "inputs": ["x"], "outputs": ["x3"], "attrs": {"dim": 0}},
            {"name": "uw", "op": "unsqueeze", "inputs": ["w1"], "outputs": ["w3"], "attrs": {"dim": -3}},
            {"name": "bmm", "op": "bmm_fp8", "inputs": ["x3", "w3", "sx", "s1"], "outputs": ["o3"],
             "attrs": {"out_dtype": "bfloat16"}},
            {"name": "v", "op": "view", "inputs": ["o3"], "outputs": ["o2"], "attrs": {"shape": [-1, 384]}},
            {"name": "fl", "op": "flatten", "inputs": ["o3"], "outputs": ["f"],
             "attrs": {"start_dim": 0, "end_dim": 1}},
        ]
        self.assertEqual(problems(g), [])
        g["nodes"][5]["attrs"]["shape"] = ["M", 385]
        self.assert_problem(g, "does not give")


class SelfCheckCli(unittest.TestCase):
    def test_files_and_folders(self):
        with tempfile.TemporaryDirectory() as d:
            good = small_graph()
            with open(os.path.join(d, "good.json"), "w") as f:
                f.write(gs.dumps_graph(good))
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(record.main(["--self-check", d]), 0)
            bad = small_graph()
            bad["nodes"][1]["attrs"]["out_dtype"] = "float8_e4m3fn"
            with open(os.path.join(d, "bad.json"), "w") as f:
                f.write(gs.dumps_graph(bad))
            with contextlib.redirect_stdout(out):
                self.assertEqual(record.main(["--self-check", d]), 1)
            self.assertIn("FAIL", out.getvalue())
            self.assertIn("out_dtype", out.getvalue())


@unittest.skipUnless(os.path.isdir(GRAPHS), f"no recorded graphs at {GRAPHS} yet")
class RecordedGraphs(unittest.TestCase):
    def test_every_recorded_graph_meets_the_contract(self):
        names = sorted(f for f in os.listdir(GRAPHS)
                       if f.endswith(".json") and not f.endswith(".expected.json"))
        self.assertTrue(names)
        for name in names:
            with open(os.path.join(GRAPHS, name)) as f:
                graph = json.load(f)
            self.assertEqual(contract.check_graph(graph, record.bindings_for(graph)), [], name)
            self.assertEqual(graph["name"] + ".json", name)


@unittest.skipUnless(HAVE_TORCH, "torch is not installed: tracing real modules needs torch 2.11")
class Tracing(unittest.TestCase):
    def record(self, *names):
        d = tempfile.mkdtemp()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = record.main(["--out", d, "--only", *names])
        self.assertEqual(rc, 0, out.getvalue())
        graphs = {}
        for n in names:
            with open(os.path.join(d, n + ".json")) as f:
                graphs[n] = json.load(f)
            os.unlink(os.path.join(d, n + ".json"))
        os.rmdir(d)
        return graphs

    def test_attention_tp2_shapes(self):
        g = self.record("llama3-70b-attn-tp2")["llama3-70b-attn-tp2"]
        decl = {x["name"]: x for x in g["tensors"]}
        self.assertEqual(decl["x_shard"]["shape"], ["M/2", 8192])
        self.assertEqual(decl["w_qkv"], {"name": "w_qkv", "shape": [8192, 5120],
                                         "dtype": "float8_e4m3fn", "layout": "col_major"})
        self.assertEqual(decl["y"]["shape"], ["M/2", 8192])
        self.assertEqual([n["op"] for n in g["nodes"]], ["all_gather", "scaled_mm", "attention",
                                                         "quantize_fp8", "scaled_mm", "reduce_scatter"])
        self.assertEqual(g["meta"]["trace"]["scaled_mm"], "torch._scaled_mm")

    def test_flashinfer_and_3d(self):
        gs_ = self.record("llama3-8b-attn-tp2-flashinfer", "llama3-8b-mlp-tp2-3d")
        ops = [n["op"] for n in gs_["llama3-8b-attn-tp2-flashinfer"]["nodes"]]
        self.assertEqual(ops.count("bmm_fp8"), 2)
        self.assertEqual(ops[1:5], ["unsqueeze", "unsqueeze", "bmm_fp8", "view"])
        g3 = gs_["llama3-8b-mlp-tp2-3d"]
        self.assertEqual(g3["tensors"][0]["shape"], ["M/2", 1, 4096])
        self.assertEqual(g3["nodes"][1]["op"], "reshape")
        self.assertEqual(g3["nodes"][1]["attrs"]["shape"], ["M", 4096])

    def test_scaled_mm_refusal_falls_back_to_the_stand_in(self):
        import models
        cfg = models.ModelConfig("odd", 4104, 8, 2, 8, 4104)  # K = 4104 is not a multiple of 16
        spec = models.GraphSpec("odd-attn-tp2", cfg, 2, "attn")
        saved = models.graph_set
        models.graph_set = lambda: [spec]
        self.addCleanup(setattr, models, "graph_set", saved)
        g = self.record("odd-attn-tp2")["odd-attn-tp2"]
        self.assertIn("tpjit::scaled_mm", g["meta"]["trace"]["scaled_mm"])
        self.assertIn("divisible by 16", g["meta"]["trace"]["scaled_mm"])
        self.assertEqual([n["op"] for n in g["nodes"]].count("scaled_mm"), 2)


if __name__ == "__main__":
    unittest.main()
