"""Orchestration, one module per command (``expr``, ``net``, ``func``, ``sanity``, ``sweep``,
``descend``) plus ``common`` (what two commands share): validate, compute with the core,
return a typed result.  Nothing here prints; no command module imports another."""
