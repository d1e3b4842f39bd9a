"""Use cases. Each validates, authorizes through `policy`, changes state
(through `workflow` where an item has states), writes the audit trail and
flushes; the caller's unit of work commits."""
