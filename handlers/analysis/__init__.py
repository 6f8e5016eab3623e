"""AWS semantics of each image operation on one decoded frame (shared by images and videos)."""
