"""Caches: the local store (CAS + action cache) and, by URL scheme, remote stores."""

from axl.cache._local import LocalStore, write_atomic
from axl.cache._records import ActionResult, OutputRecord

__all__ = ["ActionResult", "LocalStore", "OutputRecord", "write_atomic"]
