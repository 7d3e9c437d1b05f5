"""Core pieces shared by every domain: registry, configs, run store, progress."""
