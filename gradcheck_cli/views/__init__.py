"""Views: the only package that imports rich.  Each module renders typed results
(``results.Report``, ``descent.DescentResult``): ``table`` (the tables, JSON, plain
text, header and note lines), ``sweep``, ``graph``, ``descent``, ``junit`` (XML) and
``progress`` (stderr)."""
