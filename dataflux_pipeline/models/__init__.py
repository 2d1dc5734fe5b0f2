"""Model loading: local folders only, loaded once per process, on CUDA when present."""
