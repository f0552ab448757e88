"""Agreements with the debtor and what follows them: payment plans, settlements, disputes,
write-off proposals, agencies, the debtor's own agreements."""
