// SNS and SQS through the AWS SDK for JavaScript v3, on the emulator's port (the calls a
// stored-video job's notification channel needs). Used by tests/test_aws_services.py.
//
// Usage: node sns_sqs.js <config.json>   (endpoint, region, accessKeyId, secretAccessKey, name)
// Prints one JSON object: what each call answered, or {error, name} for the first failure.
import { readFileSync } from "node:fs";
import {
  SNSClient,
  CreateTopicCommand,
  SubscribeCommand,
  PublishCommand,
  GetTopicAttributesCommand,
} from "@aws-sdk/client-sns";
import {
  SQSClient,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const common = {
  endpoint: config.endpoint,
  region: config.region,
  credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
  maxAttempts: 1,
};
const sns = new SNSClient(common);
const sqs = new SQSClient(common);

try {
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: config.name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: config.name }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const policy = {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "sns.amazonaws.com" },
        Action: "SQS:SendMessage",
        Resource: Attributes.QueueArn,
        Condition: { ArnEquals: { "aws:SourceArn": TopicArn } },
      },
    ],
  };
  await sqs.send(
    new SetQueueAttributesCommand({ QueueUrl, Attributes: { Policy: JSON.stringify(policy) } }),
  );
  const { SubscriptionArn } = await sns.send(
    new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: Attributes.QueueArn }),
  );
  await sns.send(new PublishCommand({ TopicArn, Message: config.message }));
  const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
  let missing = null;
  try {
    await sns.send(new GetTopicAttributesCommand({ TopicArn: `${TopicArn}-missing` }));
  } catch (err) {
    missing = err.name;
  }
  console.log(
    JSON.stringify({
      topicArn: TopicArn,
      queueUrl: QueueUrl,
      subscriptionArn: SubscriptionArn,
      bodies: (received.Messages || []).map((m) => m.Body),
      missingTopicError: missing,
    }),
  );
} catch (err) {
  console.log(JSON.stringify({ error: String(err), name: err.name }));
}
