"""OCPI 2.1.1 base types (spec 2.1.1 "Types"): the 2.2.1 ones, plus the string lengths 2.1.1 uses.

2.1.1's DateTime, number, DisplayText and URL are 2.2.1's (ocpi.v221.types). Its `string` says
"only printable ASCII", yet DisplayText carries text per language; these models read it as
2.2.1 does (printable UTF-8, no control characters): docs/versions.md says why.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from ocpi.v221.types import STRING_PATTERN

__all__ = ["String36", "String39", "String48"]

String36 = Annotated[str, StringConstraints(max_length=36, pattern=STRING_PATTERN)]
String39 = Annotated[str, StringConstraints(max_length=39, pattern=STRING_PATTERN)]
String48 = Annotated[str, StringConstraints(max_length=48, pattern=STRING_PATTERN)]
