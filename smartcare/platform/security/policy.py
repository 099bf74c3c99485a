"""The one access policy: every read, search, write and operation on the store is decided here.

Until identities and roles land (issue 3), only the platform itself (the `system` context) is
allowed; every other caller is refused, so no route can reach personal health data unchecked.
"""

from typing import Any

import sqlalchemy as sa

from smartcare.platform.security.context import AccessContext


class AccessDenied(Exception):
    """The policy refused the interaction; `reveal` is False where even existence must not leak."""

    def __init__(self, message: str, *, reveal: bool = True):
        super().__init__(message)
        self.reveal = reveal


def authorize(ctx: AccessContext, action: str, res_type: str, resource: dict[str, Any] | None = None) -> None:
    """Raise AccessDenied unless ctx may perform action ('read', 'search', 'create', ...) on res_type."""
    if ctx.is_system:
        return
    raise AccessDenied(f"{ctx.author} may not {action} {res_type}")


def search_restriction(ctx: AccessContext, res_type: str, resource_table: sa.Table) -> sa.ColumnElement | None:
    """A SQL condition on fhir_resource that limits a search to what ctx may see (None: no limit)."""
    authorize(ctx, "search", res_type)
    return None
