"""Getting data in and out: CSV, Excel and Parquet readers, validation, import and export."""
