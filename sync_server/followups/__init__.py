"""Follow-ups and recalls: opened by completing a visit, satisfied by a matching booking."""
