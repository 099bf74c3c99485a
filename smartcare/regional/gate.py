"""The door of the regional datasets: past the surface, the access policy decides on the dataset itself."""

from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied, decide_dataset
from smartcare.platform.web.guard import SurfaceForbidden


def require_dataset(ctx: AccessContext, dataset: str) -> None:
    """Go on when the policy gives ctx the dataset; else SurfaceForbidden, which the guard audits and answers with 403."""
    try:
        decide_dataset(ctx, dataset)
    except AccessDenied as exc:
        raise SurfaceForbidden(str(exc), ctx=ctx, surface=f"dataset {dataset}") from exc
