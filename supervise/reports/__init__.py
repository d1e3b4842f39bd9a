"""Read-only aggregate queries for the dashboard and the quarterly supervision
report, and its exporters: Word (docx), Excel (xlsx) and CSV."""
