"""The other AWS services a Rekognition user's code calls, on the same port: moto's S3, SNS,
SQS, IAM and Kinesis embedded and persisted (or external endpoints), and what the rest of the
emulator calls them through: s3.read_object / head_object / put_object, sns.publish,
kinesis.put_record, arns."""
