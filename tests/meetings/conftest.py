"""The staff tests' world (regions, accounts of every role) serves the meeting tests too."""

from tests.staff.conftest import as_role, world  # noqa: F401  (fixtures)
