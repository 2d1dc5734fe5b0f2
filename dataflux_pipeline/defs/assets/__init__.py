"""Software-defined assets, one module per stage; each is thin and calls plain Python."""
