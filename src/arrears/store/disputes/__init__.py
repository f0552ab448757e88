"""The store's side of disputes: the dispute rows, their invoices and the invoices' ``disputed``
flag kept in step (:mod:`.records`), and the import's flag mapped onto disputes (:mod:`.erp`)."""
