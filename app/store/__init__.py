"""The run store: the service's database (SQLite by default, or PostgreSQL), one module per job.

- ``schema``: the tables (runs, feedback, adapter blobs, adapters, activations) and the columns added
  to older databases;
- ``database``: a URL → a durable engine with the tables created (``Database``), and the refusal of an
  unusable SQLite file (``StoreUnusable``);
- ``runs``: the run log and its feedback (``RunStore``, a ``Database``);
- ``blobs``: an adapter folder's files ↔ one sha256-named blob;
- ``registry``: the adapter registry and the activation history replicas follow (``AdapterStore``).
"""
