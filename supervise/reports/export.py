"""One entry point for the three formats of the quarterly report."""
from __future__ import annotations

from ..models import ExportFormat
from .docx_export import render_docx
from .ledger import render_csv, render_xlsx
from .supervision import Supervision

RENDERERS = {
    ExportFormat.DOCX: render_docx,
    ExportFormat.XLSX: render_xlsx,
    ExportFormat.CSV: render_csv,
}


def parse_format(value: str) -> ExportFormat:
    from ..errors import ValidationError

    try:
        return ExportFormat((value or "").strip().lower())
    except ValueError:
        raise ValidationError(
            f"不支持的导出格式“{value}”,可选 docx、xlsx、csv", field_errors={"format": "格式无效"}
        ) from None


def render(fmt: ExportFormat, data: Supervision, *, next_steps: str = "") -> bytes:
    """The file; `next_steps` (下一步工作要求) is a section of the Word 通报
    only: the ledgers carry figures."""
    if fmt is ExportFormat.DOCX:
        return render_docx(data, next_steps)
    return RENDERERS[fmt](data)


def filename(fmt: ExportFormat, data: Supervision) -> str:
    kind = "督查通报" if fmt is ExportFormat.DOCX else "台账"
    number = data.plan.document_number.replace("/", "-")
    return f"{number}-{data.period.code}-{kind}.{fmt.value}"
