"""Use cases. Each validates, authorizes through `policy`, changes state
(through `workflow` where an item has states), writes the audit trail and
flushes; the caller's unit of work commits.

The audit trail itself (`supervise.audit`) sits below `workflow`, which
writes a row for every transition; it is re-exported here so that a use case
says `from . import audit`."""
from .. import audit  # noqa: F401
