"""The verdict (06): pre-registered contrasts with Holm over their family (:mod:`.contrasts`),
screening vs confirmation tiers (:mod:`.tiers`), result tables (:mod:`.tables`), figures
(:mod:`.figures`)."""
