"""The IR: frozen, canonical, backend-agnostic description of a workflow."""

from axl.ir._json import dumps, from_dict, loads, to_dict
from axl.ir._model import (
    IR_VERSION,
    Arg,
    Const,
    IREdge,
    IRNode,
    IROutput,
    IRWorkflow,
    Map,
    Ref,
    Seq,
    Source,
    iter_refs,
    iter_sources,
)
from axl.ir._trace import build_ir, validate

__all__ = [
    "IR_VERSION",
    "Arg",
    "Const",
    "IREdge",
    "IRNode",
    "IROutput",
    "IRWorkflow",
    "Map",
    "Ref",
    "Seq",
    "Source",
    "build_ir",
    "dumps",
    "from_dict",
    "iter_refs",
    "iter_sources",
    "loads",
    "to_dict",
    "validate",
]
