"""The staff blueprint's views, one module per part of the console."""

from . import (  # noqa: F401
    accounts,
    audit_log,
    auth,
    campaigns,
    imports,
    paper,
    printing,
    regions,
    review,
)
