"""Records: the structured side of the knowledge.

- :mod:`.keys`: an item's identity from its table's key attributes, any key schema.
- :mod:`.schema`: the team's attribute names mapped onto a kind's fields, and each kind's facets.
- :mod:`.query`: the typed record query (filters, time range, one operation) and its result.
- :mod:`.parser`: questions recognised as record queries without a model.
"""

# kotae.models imports RecordResult from .query, which needs kotae.models' Document: loading the
# models first, whichever module is imported first, keeps that cycle in one order.
import kotae.models  # noqa: F401
