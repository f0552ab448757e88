"""Contact rules: no message or call breaks the debtor's law, consent or time zone.

Rule packs (YAML data shipped in ``packs/``) chosen per debtor by country, kind and region; a
pure, columnar guard (:func:`arrears.contact.guard.guard`) that the cycle runs on every planned
contact and the channels run again at sending time. See ``docs/contact-rules.md``.
"""
