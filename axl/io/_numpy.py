"""The ``npy`` handler: numpy arrays in numpy's own ``.npy`` format, never pickled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axl.io._base import cannot_save, is_exact, register, require

_EXPECTED = "numpy arrays of numbers, booleans, strings, dates or records (no Python objects)"


class NpyHandler:
    """A numpy ``ndarray``, written by :func:`numpy.save` with ``allow_pickle=False``.

    The bytes depend only on the array's dtype, shape, memory order (C or Fortran, which
    round-trips) and values, so the same array always has the same digest.
    """

    name = "npy"
    extension = "npy"

    def save(self, value: Any, path: Path) -> None:
        np = require(self.name, "numpy")
        if not isinstance(value, np.ndarray) or isinstance(value, np.ma.MaskedArray):
            # A masked array would lose its mask; a matrix or memmap saves as its plain array.
            raise cannot_save(self.name, value, _EXPECTED)
        if value.dtype.hasobject:
            raise cannot_save(self.name, value, _EXPECTED, f"its dtype {value.dtype} holds objects")
        with path.open("wb") as f:
            # Contiguous arrays are written from their own memory; others in bounded chunks.
            np.save(f, value, allow_pickle=False)

    def load(self, path: Path) -> Any:
        np = require(self.name, "numpy")
        return np.load(path, allow_pickle=False)

    def accepts(self, value: Any) -> bool:
        return is_exact(value, "numpy", "ndarray") and not value.dtype.hasobject

    def metadata(self, path: Path) -> dict[str, Any]:
        np = require(self.name, "numpy")
        fmt = np.lib.format
        # Only the header is read: describing a 10 GB array costs nothing.
        with path.open("rb") as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran_order, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran_order, dtype = fmt.read_array_header_2_0(f)
            else:  # 3.0 (UTF-8 field names) has no public header reader; a memory map reads none
                array = np.load(path, mmap_mode="r", allow_pickle=False)
                shape, fortran_order, dtype = array.shape, np.isfortran(array), array.dtype
        return {"shape": list(shape), "dtype": str(dtype), "fortran_order": bool(fortran_order)}


register(
    NpyHandler(),
    detect_rank=30,
    annotations=(
        "numpy.ndarray",
        "np.ndarray",
        "ndarray",
        "numpy.typing.NDArray",
        "npt.NDArray",
        "NDArray",
    ),
)
