"""Issue 14's black-box probes, one module per group of probes; ``python -m bench.security_probes``
runs them (``__main__.py``)."""
