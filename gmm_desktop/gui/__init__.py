"""Qt widgets and plots. Talks to the controller only, never to the engine."""
