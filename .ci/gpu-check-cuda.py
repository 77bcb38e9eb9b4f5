#!/usr/bin/env python3
"""Helpers of .ci/gpu-check's CUDA part (standard library only, numpy where it reads maps).

  gpu-check-cuda.py nvlibs                      the lib folders of nvidia/ pip wheels, colon-joined
  gpu-check-cuda.py record OUT NAME RC T0 T1 LIMIT SETTINGS LOG
                                                one step's outcome (T0, T1: date +%s.%N), a line
                                                of OUT/cuda_parts.jsonl
  gpu-check-cuda.py profile DIR OUT.json        ONNX Runtime profiles (DIR/p*.json) summarised
  gpu-check-cuda.py snippet README RUN DATA SET OURS.parquet N OUT.json
                                                README's Python snippet run on RUN's encoder
  gpu-check-cuda.py summary OUT PREFIX          OUT/gpu-check.json from the parts' files
"""
import collections
import glob
import json
import os
import re
import site
import subprocess
import sys
import tempfile


def nvlibs():
    """Every folder under a site-packages nvidia/ tree that holds shared libraries: the CUDA 12
    wheels' nvidia/<component>/lib and CUDA 13's nvidia/cu13/lib, cuDNN's nvidia/cudnn/lib."""
    roots = []
    for p in sys.path + site.getsitepackages() + [site.getusersitepackages()]:
        d = os.path.join(p, "nvidia")
        if os.path.isdir(d) and os.path.realpath(d) not in roots:
            roots.append(os.path.realpath(d))
    dirs = []
    for r in roots:
        for here, sub, files in os.walk(r):
            if here[len(r):].count(os.sep) > 3:
                sub[:] = []
                continue
            if os.path.basename(here) in ("lib", "lib64") and any(".so" in f for f in files):
                dirs.append(here)
    print(":".join(sorted(dirs)))


def last_line(log):
    try:
        lines = [l.strip() for l in open(log, errors="replace") if l.strip()]
    except OSError:
        return ""
    return lines[-1][:600] if lines else ""


def record(out, name, rc, t0, t1, limit, settings, log):
    rc, limit = int(rc), int(limit)
    r = {"part": name, "rc": rc, "seconds": round(float(t1) - float(t0), 2), "limit_s": limit, "settings": settings}
    if rc == 124 or rc == 137:
        r["error"] = "timed out after %d s; last output: %s" % (limit, last_line(log))
    elif rc == 200:
        r["skipped"] = last_line(log)
    elif rc != 0:
        r["error"] = last_line(log) or "exit status %d" % rc
    with open(os.path.join(out, "cuda_parts.jsonl"), "a") as f:
        f.write(json.dumps(r) + "\n")


def shapes(args):
    s = args.get("input_type_shape")
    if not isinstance(s, list):
        return ""
    out = []
    for d in s:
        for _, dims in (d.items() if isinstance(d, dict) else []):
            out.append("x".join(str(v) for v in dims) or "scalar")
    return " ".join(out)


def profile(dirname, outp):
    """Per-node times of every profile in dirname, the first run of each session left out (the
    warm-up: allocation and cuDNN's algorithm search). Without CUPTI in ONNX Runtime's build a
    node's time is host time: the CUDA part sets CUDA_LAUNCH_BLOCKING=1 so that it includes
    the kernels. GPU kernel events (cat Kernel), when a build records them, are summarised too."""
    files = sorted(glob.glob(os.path.join(dirname, "p*.json")))
    if not files:
        raise SystemExit("profile: no ONNX Runtime profile was written in %s" % dirname)
    node = collections.defaultdict(float)
    info = {}
    ops = collections.defaultdict(float)
    provs = collections.defaultdict(float)
    kern = collections.defaultdict(float)
    runs, run_us = 0, 0.0
    for f in files:
        ev = json.load(open(f))
        mr = sorted((e for e in ev if e.get("cat") == "Session" and e.get("name") == "model_run"), key=lambda e: e["ts"])
        if len(mr) < 2:
            continue
        cut = mr[0]["ts"] + mr[0]["dur"]
        runs = max(runs, len(mr) - 1)
        run_us += sum(e["dur"] for e in mr[1:])  # sessions that run once per step each (CPU: train step, Adam)
        for e in ev:
            if e.get("ts", 0) < cut:
                continue
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
                a = e.get("args", {})
                n = e["name"][: -len("_kernel_time")]
                node[n] += e["dur"]
                info[n] = (a.get("op_name", "?"), a.get("provider", "?"), shapes(a))
                ops[a.get("op_name", "?")] += e["dur"]
                provs[a.get("provider", "?")] += e["dur"]
            elif e.get("cat") == "Kernel":
                kern[e.get("name", "?")] += e["dur"]
    if runs == 0:
        raise SystemExit("profile: no session ran more than once in %s" % dirname)
    total = sum(node.values()) or 1.0
    top = [{"node": n, "op": info[n][0], "provider": info[n][1], "us_per_run": v / runs, "share": v / total, "inputs": info[n][2]}
           for n, v in sorted(node.items(), key=lambda x: -x[1])[:40]]
    r = {"files": len(files), "runs_counted": runs, "node_events": len(node),
         "node_ms_per_run": total / runs / 1e3, "session_run_ms_per_run": run_us / runs / 1e3,
         "launch_blocking": os.environ.get("CUDA_LAUNCH_BLOCKING") == "1",
         "by_op_type": {k: {"share": v / total, "ms_per_run": v / runs / 1e3} for k, v in sorted(ops.items(), key=lambda x: -x[1])},
         "by_provider": {k: v / total for k, v in sorted(provs.items(), key=lambda x: -x[1])},
         "top": top}
    if kern:
        kt = sum(kern.values())
        r["gpu_kernels_top"] = [{"kernel": k, "us_per_run": v / runs, "share": v / kt} for k, v in sorted(kern.items(), key=lambda x: -x[1])[:40]]
    json.dump(r, open(outp, "w"), indent=1)
    print("%.1f ms of node time per run (session run %.1f ms), %d runs counted%s" % (
        r["node_ms_per_run"], r["session_run_ms_per_run"], runs, ", CUDA_LAUNCH_BLOCKING=1" if r["launch_blocking"] else ""))
    for k, v in list(r["by_op_type"].items())[:10]:
        print("  %-22s %5.1f%% %8.2f ms/run" % (k, 100 * v["share"], v["ms_per_run"]))
    for t in top[:12]:
        print("  %5.1f%% %8.0f us %-14s %s  %s" % (100 * t["share"], t["us_per_run"], t["op"], t["node"][:60], t["inputs"][:70]))


SKIP = 200  # exit status of a part that was skipped (a missing Python module): not a failure

PRELUDE = r'''
# --- prelude (gpu-check): x for the first N maps of SET, as the snippet's comment says ---
import json as _json, os as _os, sys as _sys
def _skip(why):
    _json.dump({"skipped": why}, open(_OUT, "w")); print("skipped: " + why); _sys.exit(%(skip)d)
try:
    import numpy as _np
except ImportError:
    _skip("the Python module numpy is missing")
try:
    import onnxruntime as _ort
except ImportError:
    _skip("the Python module onnxruntime is missing (pip install onnxruntime): the snippet needs it")
_meta = _ort.InferenceSession(_ENC, providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
_st = _json.loads(_meta["camelsvae.stats"])
_tr = _st.get("transforms") or _meta["camelsvae.transforms"].strip("[]").split()
_files = [_np.load(_os.path.join(_DATA, "Maps_%%s_IllustrisTNG_%%s_z=0.00.npy" %% (f, _SET)), mmap_mode="r") for f in ("Mgas", "Vgas", "B")]
_S = int(_st["size"])
x = _np.empty((_N, 3, _S, _S), _np.float32)
for _c, _f in enumerate(_files):
    _a = _np.asarray(_f[:_N], dtype=_np.float64)
    if _a.shape[-1] != _S:
        _k = _a.shape[-1] // _S
        _a = _a.reshape(_N, _S, _k, _S, _k).mean(axis=(2, 4))
    if _tr[_c] == "log10":
        if (_st.get("log_floor") or 0) > 0:
            _a = _np.where(_a > 0, _a, _st["log_floor"])
        _a = _np.log10(_a)
    elif _tr[_c] == "asinh":
        _a = _np.arcsinh(_a)
    x[:, _c] = (_a - _st["mean"][_c]) / _st["std"][_c]
# --- the snippet, verbatim from README.md ---
'''

EPILOGUE = r'''
# --- epilogue (gpu-check): compare with `camelsvae encode`'s latents of the same maps ---
_ours, _src, _why = None, None, "the Python module pyarrow is missing"
try:
    import pyarrow as _pa, pyarrow.parquet as _pq
    _t = _pq.read_table(_OURS, columns=["set", "map", "mu"])
    _col = _t.column("mu").combine_chunks()
    _mu_all = _np.asarray(_col.flatten(), dtype=_np.float32).reshape(len(_col), -1)
    _sets, _maps = _t.column("set").to_pylist(), _t.column("map").to_pylist()
    _row = {(s, m): i for i, (s, m) in enumerate(zip(_sets, _maps))}
    _ours = _np.stack([_mu_all[_row[(_SET, m)]] for m in range(_N)])
    _src = "parquet (pyarrow %s)" % _pa.__version__
except Exception as _e:  # no pyarrow, or a table it could not read as expected
    if not isinstance(_e, ImportError):
        _why = "pyarrow could not read %s: %s" % (_OURS, _e)
    if _os.path.exists(_OURS + ".mu.npy"):  # encode --npy: rows in the table's order (maps 0..)
        _ours, _src = _np.load(_OURS + ".mu.npy")[:_N], "mu.npy (%s; the Parquet file was not read)" % _why
if _ours is None:
    _skip(_why + ", and there is no .mu.npy to compare with")
_d = float(_np.abs(_np.asarray(mu, _np.float64) - _ours).max())
_json.dump({"maps": _N, "set": _SET, "max_abs_diff": _d, "max_abs_mu": float(_np.abs(_ours).max()), "ours_from": _src,
            "onnxruntime": _ort.__version__, "snippet": _SNIPPET}, open(_OUT, "w"), indent=1)
print("README snippet: mu of %d %s maps, max |difference| from camelsvae encode %.3g (|mu| up to %.3g; ours from %s)" % (_N, _SET, _d, float(_np.abs(_ours).max()), _src))
'''


def snippet(readme, run, data, set_, ours, n, outp):
    text = open(readme).read()
    sec = text.split("## Using the exported encoder elsewhere", 1)
    if len(sec) != 2:
        raise SystemExit("snippet: README.md has no section 'Using the exported encoder elsewhere'")
    m = re.search(r"```python\n(.*?)```", sec[1].split("\n## ", 1)[0], re.S)
    if not m:
        raise SystemExit("snippet: the section has no ```python block")
    code = m.group(1)
    p = re.search(r'InferenceSession\("([^"]+)"\)', code)
    if not p or not p.group(1).endswith("export/encoder.onnx"):
        raise SystemExit("snippet: no InferenceSession(\"RUN/export/encoder.onnx\") in the snippet")
    enc = os.path.join(os.path.abspath(run), "export", "encoder.onnx")
    if not os.path.exists(enc):
        raise SystemExit("snippet: %s does not exist (training failed?)" % enc)
    wd = tempfile.mkdtemp(prefix="snippet-", dir=os.path.dirname(os.path.abspath(run)))  # gpu-check removes it
    link = os.path.join(wd, p.group(1)[: -len("/export/encoder.onnx")])
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(os.path.abspath(run), link)
    head = "\n".join("%s = %r" % kv for kv in [("_ENC", enc), ("_DATA", os.path.abspath(data)), ("_SET", set_), ("_N", int(n)),
                                                ("_OURS", os.path.abspath(ours)), ("_OUT", os.path.abspath(outp)), ("_SNIPPET", code)])
    script = os.path.join(wd, "snippet_check.py")
    with open(script, "w") as f:
        f.write(head + "\n" + PRELUDE % {"skip": SKIP} + code + EPILOGUE)
    print("running README.md's snippet in %s (%s -> %s)" % (wd, p.group(1)[: -len("/export/encoder.onnx")], run), flush=True)
    sys.exit(subprocess.call([sys.executable, script], cwd=wd))


def summary(out, prefix):
    def load(name):
        p = os.path.join(out, name + ".json")
        try:
            return json.load(open(p)) if os.path.exists(p) else None
        except ValueError:
            return None

    parts = []
    if os.path.exists(os.path.join(out, "cuda_parts.jsonl")):
        parts = [json.loads(l) for l in open(os.path.join(out, "cuda_parts.jsonl")) if l.strip()]
    def first_line(name):
        try:
            return open(os.path.join(out, "logs", name)).readline().strip()
        except OSError:
            return ""

    s = {"provider": prefix, "gpu": first_line("nvidia-smi.log"), "ld_library_path": first_line("ld_library_path.log")}
    runs = {}
    train = {}
    for prec in ("fp32", "tf32"):
        for b in (16, 64):
            k = "%s_%s_b%d" % (prefix, prec, b)
            r = runs[k] = load(k)
            if r:
                train[k] = {"images_per_s": r["images_per_s"], "ms_per_step": r["ms_per_step"], "setup_s": r.get("setup_s"),
                            "steps": r.get("steps"), "nodes_off_device": len(r.get("nodes_off_device") or [])}
    k = "%s_graph_fp32_b16" % prefix
    r = runs[k] = load(k)
    if r:
        train[k] = {"images_per_s": r["images_per_s"], "ms_per_step": r["ms_per_step"], "setup_s": r.get("setup_s"),
                    "note": "CUDA graph replay: timing only; the step's state buffers alternate, so replays may compute on stale buffers"}
    for prec in ("fp32", "tf32"):
        r = runs["torch_train_" + prec] = load("torch_train_" + prec)
        for c in (r or {}).get("cases", []):
            train["torch_%s_b%d" % (prec, c["batch"])] = {"images_per_s": c["images_per_s"], "ms_per_step": c["ms_per_step"], "steps": c["steps"]}
    for p in parts:  # search mode and options of each run
        if p["part"] in train:
            train[p["part"]]["settings"] = p["settings"]
    s["train_step"] = train
    ratios = {}
    for b in (16, 64):
        for prec in ("fp32", "tf32"):
            a, t = train.get("%s_%s_b%d" % (prefix, prec, b)), train.get("torch_%s_b%d" % (prec, b))
            if a and t:
                ratios["%s_%s_b%d_to_torch" % (prefix, prec, b)] = a["images_per_s"] / t["images_per_s"]
    s["ratios"] = ratios
    enc = {}
    log = os.path.join(out, "logs", prefix + "_encode.log")
    if os.path.exists(log):
        m = re.findall(r"encoded (\d+) maps of (\S+) in ([\d.]+)s \(([\d.]+) maps/s\)", open(log).read())
        if m:
            enc["ours_maps"], enc["ours_maps_per_s"] = int(m[-1][0]), float(m[-1][3])
    te = runs["torch_encode"] = load("torch_encode")
    if te:
        enc.update(torch_maps=te["maps"], torch_maps_per_s=te["maps_per_s"], torch_encoder_alone_maps_per_s=te["encoder_alone_maps_per_s"],
                   batch=te["batch"], workers=te["workers"])
    if "ours_maps_per_s" in enc and "torch_maps_per_s" in enc:
        enc["ratio_ours_to_torch"] = enc["ours_maps_per_s"] / enc["torch_maps_per_s"]
    for p in parts:
        if p["part"] == prefix + "_encode" and p["settings"]:
            enc["settings"] = p["settings"]
    s["encode"] = enc
    sn = runs["snippet"] = load("snippet")
    if sn:
        s["readme_snippet"] = {k: sn[k] for k in ("max_abs_diff", "maps", "ours_from", "skipped") if k in sn}
    pr = runs["cuda_profile"] = load("cuda_profile")
    if pr:
        s["profile"] = {"node_ms_per_run": pr["node_ms_per_run"], "session_run_ms_per_run": pr["session_run_ms_per_run"],
                        "launch_blocking": pr["launch_blocking"],
                        "by_op_type": {k: round(v["share"], 4) for k, v in list(pr["by_op_type"].items())[:12]},
                        "top": [{k: t[k] for k in ("node", "op", "us_per_run", "share")} for t in pr["top"][:10]]}
    s["errors"] = {p["part"]: p["error"] for p in parts if "error" in p}
    s["skipped"] = {p["part"]: p["skipped"] for p in parts if "skipped" in p}
    for name in ("snippet",):
        if sn and "skipped" in sn:
            s["skipped"][name] = sn["skipped"]
    s["seconds"] = {p["part"]: round(p["seconds"], 1) for p in parts}
    path = os.path.join(out, "gpu-check.json")
    doc = {"summary": {}, "runs": {}}
    if os.path.exists(path):  # the WebGPU parts' summary of this same run
        try:
            doc = json.load(open(path))
        except ValueError:
            pass
    doc["summary"]["cuda_part"] = s
    doc["runs"].update({k: v for k, v in runs.items() if v is not None})
    doc["runs"]["cuda_parts"] = parts
    json.dump(doc, open(path, "w"), indent=2)
    print(json.dumps(s, indent=2))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"nvlibs": nvlibs, "record": record, "profile": profile, "snippet": snippet, "summary": summary}[cmd](*args)
