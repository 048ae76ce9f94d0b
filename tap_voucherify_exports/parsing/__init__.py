"""CSV to records: header to columns, cells to values, rows to records."""
