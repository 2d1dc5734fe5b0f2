"""File-arrival sensor and the daily sweep that catches whatever it missed."""
