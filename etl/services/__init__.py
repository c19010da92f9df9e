"""Local services the project starts itself when no external one is configured."""
