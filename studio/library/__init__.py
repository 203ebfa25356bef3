"""Library layer (no Qt): results saved atomically with their parameters, and the history index."""
