"""Application state and background work between the GUI and the engine (no widgets)."""
