"""Caches: the local store (CAS + action cache) and, by URL scheme, remote stores."""

from axl.cache._local import LocalStore, write_atomic
from axl.cache._records import ActionResult, OutputRecord
from axl.cache._remote import RemoteError, RemoteStore, open_remote, register_remote
from axl.cache._tiered import TieredStore

__all__ = [
    "ActionResult",
    "LocalStore",
    "OutputRecord",
    "RemoteError",
    "RemoteStore",
    "TieredStore",
    "open_remote",
    "register_remote",
    "write_atomic",
]
