"""HTTP handlers: thin, they parse, call the domain and render."""
