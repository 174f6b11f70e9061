"""Model packages; importing one registers its classes with the transformers Auto classes."""
