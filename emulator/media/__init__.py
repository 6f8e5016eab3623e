"""Media input: Image{Bytes|S3Object} -> RGB frame (and, for video jobs, frames + metadata)."""
