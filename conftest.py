"""pytest's doctest collection imports every module of the package;
``skganomaly.onnx`` needs the ``onnx`` extra, so it is left out where the
extra is not installed (tests/test_onnx.py skips itself then)."""

import importlib.util

collect_ignore = []
if any(importlib.util.find_spec(name) is None
       for name in ("onnx", "skl2onnx", "onnxruntime")):
    collect_ignore.append("skganomaly/onnx.py")
