"""Peers of DataFlux's search in bench/search.py: what a user would pick instead, run on the
same corpus, the same query vectors and the same queries (engines), behind the same
minimal HTTP endpoint (server), and scored on the same evaluation set (evaluation)."""
