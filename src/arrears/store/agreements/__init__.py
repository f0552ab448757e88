"""The store's side of payment plans and settlements
(``arrears.services.arrangements.agreements``)."""
