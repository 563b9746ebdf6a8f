"""Caches: the local store (CAS + action cache) and, by URL scheme, remote stores."""

from typing import TYPE_CHECKING, Any

from axl.cache._local import LocalStore, write_atomic
from axl.cache._records import ActionResult, OutputRecord
from axl.cache._remote import RemoteError, RemoteStore, open_remote, register_remote

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    # The tiered store (hmac, the protobuf codec) loads only when a build has a remote: a null
    # build without one should not pay for its imports.
    if name == "TieredStore":
        from axl.cache._tiered import TieredStore

        return TieredStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
