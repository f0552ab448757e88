"""The importer's loader: validated frames into the store, set-based, in one transaction."""
