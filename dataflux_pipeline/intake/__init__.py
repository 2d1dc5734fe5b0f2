"""A file's identity before analysis: hashes, sniffed type, sidecars, and the batches
the sensors group landed files into."""
