"""The ``arrears`` command line (Typer + Rich). One module per command group."""
