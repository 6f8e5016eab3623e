"""The conformance suite: every implemented Rekognition operation, through boto3, the AWS CLI
and the AWS SDK for JavaScript v3, checked against botocore's service model.

    python -m rekognition_emulator.conformance [--endpoint URL]

Without --endpoint it starts an emulator of its own (ephemeral data, models from the cache).
"""
