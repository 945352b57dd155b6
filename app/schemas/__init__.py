"""Request and response models of the HTTP API, with the examples Swagger shows: one module per
route group (``ask``, ``health``, ``runs``, ``admin``, ``openai_compat`` for ``/v1``) and ``common``
(errors, validators)."""
