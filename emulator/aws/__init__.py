"""The other AWS services a Rekognition user's code calls, served on the same port."""
