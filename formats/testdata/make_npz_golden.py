#!/usr/bin/python3
"""Writes npz_numpy.npz and npz_numpy_z.npz (numpy.savez / savez_compressed) for
formats/npz_test.go. Run from formats/testdata with Debian's /usr/bin/python3 (numpy)."""
import numpy as np

arrays = {
    "f4": np.arange(24, dtype="<f4").reshape(2, 3, 4) / 7,
    "f8": np.array([1.5, -2.25, np.pi], dtype="<f8"),
    "i8": np.array([[1, -2], [3, 1 << 40]], dtype="<i8"),
    "i4": np.array([7, -8], dtype="<i4"),
    "be": np.array([1.0, 2.0], dtype=">f8"),
    "scalar": np.array(3.0, dtype="<f4"),
    "empty": np.zeros((0, 5), dtype="<f4"),
}
np.savez("npz_numpy.npz", **arrays)
np.savez_compressed("npz_numpy_z.npz", **arrays)
