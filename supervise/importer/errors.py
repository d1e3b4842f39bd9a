"""The importer's one error."""
from __future__ import annotations


class PlanParseError(ValueError):
    """A file or text that is not a plan document the importer can read.

    The message is Chinese, for the user, and says what to do (save as
    .docx, export a PDF with text, ...). Raised for what cannot be read at
    all; what can be read but is incomplete (no 文号, no date, no tasks) is
    a warning on the parse instead.
    """
