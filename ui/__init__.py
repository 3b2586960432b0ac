"""What the pages share: widgets, charts, colours, presenter mode and the cached model and data."""
