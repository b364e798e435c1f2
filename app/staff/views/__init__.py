"""The staff blueprint's views, one module per part of the console."""

from . import accounts, audit_log, auth, campaigns, imports, paper, printing, regions, review, sites  # noqa: F401
