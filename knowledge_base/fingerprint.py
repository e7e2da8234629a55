"""Content fingerprint of a dataset: the same data fitted twice is one dataset."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def fingerprint(X: pd.DataFrame, y) -> str:
    """sha256 over column names, dtypes and values of ``X`` and ``y`` (row order matters), 32 hex."""
    h = hashlib.sha256()
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update("\x1f".join(str(t) for t in frame.dtypes).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(pd.Series(np.asarray(y)), index=False).to_numpy().tobytes())
    return h.hexdigest()[:32]
