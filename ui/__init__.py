"""What the pages share: the active model, cached models and arrays, page state."""
