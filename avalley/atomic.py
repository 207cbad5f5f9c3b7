"""Atomic file writes: a file is either its old version or its complete new one, never a
half-written one, whatever interrupts the process (results, checkpoints, caches)."""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)   # mkstemp makes files private; results are for reading
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def jsonable(x):
    """x with NumPy and torch scalars and arrays turned into plain Python; non-finite
    floats become the strings 'nan', 'inf', '-inf' (JSON has no such numbers)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if hasattr(x, "item") and callable(x.item):      # 0-d torch tensors
        return jsonable(x.item())
    return x


def write_json(path: Path, obj) -> None:
    write_bytes(path, json.dumps(jsonable(obj), indent=2).encode())


def write_torch(path: Path, obj) -> None:
    """torch.save, atomically."""
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def write_npz(path: Path, arrays: dict) -> None:
    """np.savez_compressed, atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes(path, buf.getvalue())
