"""Socket.IO namespaces: classes that authenticate, validate and delegate to the domain."""
