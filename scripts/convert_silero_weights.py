#!/usr/bin/python3
"""Converts the Silero VAD v5 ONNX model into the compact weights file the SileroVAD node loads.

Usage: convert_silero_weights.py MODEL.onnx OUT.rmw

The v5 graph holds one `If` node on `sr == 16000`; each branch carries its own weights as
Constant nodes (STFT basis, four encoder convolutions, an LSTM cell, a 1x1 output convolution).
We pick them out by name, check every shape against the architecture the C++ forward pass
implements, and write them in the format documented in docs/silero-vad.md:

    char[8]  magic "RMWEIGHT"
    u32      version (1)
    u32      metadata length, then that many bytes of UTF-8 JSON
    u32      tensor count
    per tensor: u16 name length, name, u8 dtype (1 = float32), u8 ndim, u32 dims[ndim],
                float32 data (little endian, row major)
    u32      CRC-32 (zlib polynomial) of every byte before it

Needs Debian's python3-onnx (run with /usr/bin/python3).
"""
import hashlib
import os
import json
import struct
import sys
import zlib

import numpy as np
import onnx
from onnx import numpy_helper

MAGIC = b"RMWEIGHT"
VERSION = 1

# (name in the ONNX graph, shape for 16 kHz, shape for 8 kHz)
TENSORS = [
    ("stft.forward_basis_buffer", (258, 1, 256), (130, 1, 128)),
    ("encoder.0.reparam_conv.weight", (128, 129, 3), (128, 65, 3)),
    ("encoder.0.reparam_conv.bias", (128,), (128,)),
    ("encoder.1.reparam_conv.weight", (64, 128, 3), (64, 128, 3)),
    ("encoder.1.reparam_conv.bias", (64,), (64,)),
    ("encoder.2.reparam_conv.weight", (64, 64, 3), (64, 64, 3)),
    ("encoder.2.reparam_conv.bias", (64,), (64,)),
    ("encoder.3.reparam_conv.weight", (128, 64, 3), (128, 64, 3)),
    ("encoder.3.reparam_conv.bias", (128,), (128,)),
    ("decoder.rnn.weight_ih", (512, 128), (512, 128)),
    ("decoder.rnn.weight_hh", (512, 128), (512, 128)),
    ("decoder.rnn.bias_ih", (512,), (512,)),
    ("decoder.rnn.bias_hh", (512,), (512,)),
    ("decoder.decoder.2.weight", (1, 128, 1), (1, 128, 1)),
    ("decoder.decoder.2.bias", (1,), (1,)),
]


def fail(msg):
    print(f"convert_silero_weights: {msg}", file=sys.stderr)
    sys.exit(1)


def branch_constants(graph):
    out = {}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            name = node.output[0].split("Inline_0__")[-1]
            out[name] = numpy_helper.to_array(node.attribute[0].t)
    return out


def main():
    if len(sys.argv) != 3:
        fail("usage: convert_silero_weights.py MODEL.onnx OUT.rmw")
    src, dst = sys.argv[1], sys.argv[2]
    raw = open(src, "rb").read()
    model = onnx.load_from_string(raw)
    ifs = [n for n in model.graph.node if n.op_type == "If"]
    if len(ifs) != 1:
        fail(f"{src}: expected one top-level If node (Silero VAD v5), found {len(ifs)}")
    branches = {a.name: branch_constants(a.g) for a in ifs[0].attribute}
    # The condition is sr == 16000, so then_branch is the 16 kHz model; confirm by the shape.
    by_rate = {}
    for consts in branches.values():
        basis = consts.get("stft.forward_basis_buffer")
        if basis is None:
            fail(f"{src}: a branch has no stft.forward_basis_buffer; not a Silero VAD v5 model")
        rate = {258: "16k", 130: "8k"}.get(basis.shape[0])
        if rate is None:
            fail(f"{src}: unexpected STFT basis shape {basis.shape}")
        by_rate[rate] = consts
    if set(by_rate) != {"16k", "8k"}:
        fail(f"{src}: expected a 16 kHz and an 8 kHz branch, found {sorted(by_rate)}")

    records = []
    for rate, idx in (("16k", 1), ("8k", 2)):
        consts = by_rate[rate]
        for entry in TENSORS:
            name, shape = entry[0], entry[idx]
            if name not in consts:
                fail(f"{src}: {rate} branch lacks {name}")
            t = np.ascontiguousarray(consts[name], dtype=np.float32)
            if tuple(t.shape) != shape:
                fail(f"{src}: {rate}/{name} has shape {t.shape}, expected {shape}")
            records.append((f"{rate}/{name}", t))

    meta = json.dumps({
        "model": "silero_vad_v5",
        "source_file": src.split("/")[-1],
        "source_sha256": hashlib.sha256(raw).hexdigest(),
    }, sort_keys=True).encode()
    buf = bytearray()
    buf += MAGIC
    buf += struct.pack("<II", VERSION, len(meta)) + meta
    buf += struct.pack("<I", len(records))
    for name, t in records:
        nb = name.encode()
        buf += struct.pack("<H", len(nb)) + nb
        buf += struct.pack("<BB", 1, t.ndim)
        buf += struct.pack(f"<{t.ndim}I", *t.shape)
        buf += t.astype("<f4").tobytes()
    buf += struct.pack("<I", zlib.crc32(buf) & 0xFFFFFFFF)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf)
    os.replace(tmp, dst)
    print(f"convert_silero_weights: wrote {dst} ({len(buf)} bytes, {len(records)} tensors)")


if __name__ == "__main__":
    main()
