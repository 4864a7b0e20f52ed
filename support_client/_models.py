"""The base of every response model: unknown fields are kept, not dropped."""

from __future__ import annotations

from pydantic import BaseModel as _PydanticBase
from pydantic import ConfigDict


class BaseModel(_PydanticBase):
    # A newer server may add fields; keep them (``model.model_extra``) rather
    # than fail or drop them, so old clients keep working and can see them.
    model_config = ConfigDict(extra="allow", frozen=False, populate_by_name=True)
