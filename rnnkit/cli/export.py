"""rnnkit export: a model folder to ONNX (fp32 or int8) (issue 15)."""
