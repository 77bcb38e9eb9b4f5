"""Checks exported models with the reference ONNX checker (Debian python3-onnx).

Usage: /usr/bin/python3 check_model.py MODEL.onnx...  Prints one line per model; exits 1 on
the first invalid one.
"""
import sys

import onnx

for path in sys.argv[1:]:
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    print(f"{path}: ok (ir {m.ir_version}, opset {m.opset_import[0].version}, {len(m.graph.node)} nodes)")
