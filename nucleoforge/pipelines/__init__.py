"""transformers Pipeline subclasses, registered with PIPELINE_REGISTRY on import."""
