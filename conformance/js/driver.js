// The AWS SDK for JavaScript v3 as a client of the emulator: a core set of calls.
//
// Usage: node driver.js <config.json>
// The config names the endpoint, credentials, photos and the implemented operations; the
// driver runs the steps whose operations are implemented and prints one JSON array of
// results on stdout: {operation, name, kind, ok, detail, output}. Python checks each
// `output` against the service model; here we check what only the JS SDK can tell: that
// its deserialisers accept the body (they throw on a wrong type) and that errors map onto
// the SDK's exception classes.
import { readFileSync } from "node:fs";
import {
  RekognitionClient,
  CreateCollectionCommand,
  ListCollectionsCommand,
  DescribeCollectionCommand,
  DeleteCollectionCommand,
  DetectFacesCommand,
  IndexFacesCommand,
  SearchFacesByImageCommand,
  DetectModerationLabelsCommand,
  DetectProtectiveEquipmentCommand,
  CreateStreamProcessorCommand,
  DescribeStreamProcessorCommand,
  ListStreamProcessorsCommand,
  StartStreamProcessorCommand,
  StopStreamProcessorCommand,
  UpdateStreamProcessorCommand,
  DeleteStreamProcessorCommand,
  CreateFaceLivenessSessionCommand,
  GetFaceLivenessSessionResultsCommand,
  InvalidParameterException,
  SessionNotFoundException,
  RecognizeCelebritiesCommand,
  GetCelebrityInfoCommand,
  StartMediaAnalysisJobCommand,
  GetMediaAnalysisJobCommand,
  ListMediaAnalysisJobsCommand,
  CreateProjectCommand,
  DescribeProjectsCommand,
  DeleteProjectCommand,
  CreateDatasetCommand,
  DescribeDatasetCommand,
  ListDatasetEntriesCommand,
  ListDatasetLabelsCommand,
  UpdateDatasetEntriesCommand,
  DistributeDatasetEntriesCommand,
  DeleteDatasetCommand,
  CreateProjectVersionCommand,
  DescribeProjectVersionsCommand,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
  DeleteProjectVersionCommand,
  CopyProjectVersionCommand,
  DetectCustomLabelsCommand,
  PutProjectPolicyCommand,
  ListProjectPoliciesCommand,
  DeleteProjectPolicyCommand,
  waitUntilProjectVersionTrainingCompleted,
  waitUntilProjectVersionRunning,
  ResourceInUseException,
  ResourceNotReadyException,
  ResourceNotFoundException,
  InvalidImageFormatException,
  RekognitionServiceException,
} from "@aws-sdk/client-rekognition";
import * as rekognition from "@aws-sdk/client-rekognition";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const implemented = new Set(config.implemented);
const client = new RekognitionClient({
  endpoint: config.endpoint,
  region: config.region,
  credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
  maxAttempts: 1,
});
const photo = (role) => new Uint8Array(readFileSync(config.images[role]));
const results = [];

function strip(output) {
  const { $metadata, ...rest } = output;
  return rest;
}

async function call(operation, name, command, expect) {
  try {
    const output = await client.send(command);
    const problems = [];
    if (output.$metadata?.httpStatusCode !== 200) {
      problems.push(`$metadata.httpStatusCode ${output.$metadata?.httpStatusCode}`);
    }
    if (!output.$metadata?.requestId) problems.push("no $metadata.requestId");
    if (expect) problems.push(...expect(output));
    results.push({ operation, name, kind: "call", ok: problems.length === 0, detail: problems.join("; "), output: strip(output) });
    return problems.length === 0 ? output : null;
  } catch (err) {
    results.push({ operation, name, kind: "call", ok: false, detail: `${err.name}: ${err.message}` });
    return null;
  }
}

async function expectError(operation, name, command, code, errorClass) {
  try {
    const output = await client.send(command);
    results.push({ operation, name, kind: "error", ok: false, detail: `expected ${code}, got success ${JSON.stringify(strip(output)).slice(0, 300)}` });
  } catch (err) {
    const problems = [];
    if (err.name !== code) problems.push(`error name ${err.name}, expected ${code} (${err.message})`);
    if (errorClass && !(err instanceof errorClass)) problems.push(`not an instance of the SDK's ${errorClass.name}`);
    if (!(err instanceof RekognitionServiceException)) problems.push("not a RekognitionServiceException");
    const status = err.$metadata?.httpStatusCode;
    if (status !== 400) problems.push(`$metadata.httpStatusCode ${status}, expected 400`);
    if (!err.message) problems.push("no message");
    results.push({ operation, name: `${name} -> ${code}`, kind: "error", ok: problems.length === 0, detail: problems.join("; ") });
  }
}

const has = (op) => implemented.has(op);
const cid = config.collection;
let created = false;

if (has("CreateCollection")) {
  created = !!(await call("CreateCollection", "new collection", new CreateCollectionCommand({ CollectionId: cid }),
    (o) => (o.StatusCode === 200 ? [] : [`StatusCode ${o.StatusCode}`])));
  await expectError("CreateCollection", "CollectionId 'bad id!'", new CreateCollectionCommand({ CollectionId: "bad id!" }), "ValidationException");
}
if (has("ListCollections")) {
  await call("ListCollections", "lists the collection", new ListCollectionsCommand({}),
    (o) => (!created || (o.CollectionIds ?? []).includes(cid) ? [] : [`${cid} not listed`]));
}
if (has("DescribeCollection")) {
  if (created) {
    await call("DescribeCollection", "new collection", new DescribeCollectionCommand({ CollectionId: cid }),
      (o) => (o.CreationTimestamp instanceof Date ? [] : ["CreationTimestamp is not read as a Date"]));
  }
  await expectError("DescribeCollection", "collection does not exist",
    new DescribeCollectionCommand({ CollectionId: config.missing }), "ResourceNotFoundException", ResourceNotFoundException);
}
if (has("DetectFaces")) {
  await call("DetectFaces", "one face, ALL", new DetectFacesCommand({ Image: { Bytes: photo("face") }, Attributes: ["ALL"] }),
    (o) => ((o.FaceDetails ?? []).length === 1 ? [] : [`${(o.FaceDetails ?? []).length} faces, expected 1`]));
  await expectError("DetectFaces", "bytes not JPEG or PNG",
    new DetectFacesCommand({ Image: { Bytes: new TextEncoder().encode("GIF89a not an image at all") } }),
    "InvalidImageFormatException", InvalidImageFormatException);
}
let faceId = null;
if (created && has("IndexFaces")) {
  const o = await call("IndexFaces", "one face", new IndexFacesCommand({ CollectionId: cid, Image: { Bytes: photo("face") }, ExternalImageId: "astronaut.jpg" }),
    (o) => ((o.FaceRecords ?? []).length === 1 ? [] : [`${(o.FaceRecords ?? []).length} FaceRecords, expected 1`]));
  faceId = o?.FaceRecords?.[0]?.Face?.FaceId ?? null;
}
if (created && has("SearchFacesByImage")) {
  await call("SearchFacesByImage", "finds the indexed face", new SearchFacesByImageCommand({ CollectionId: cid, Image: { Bytes: photo("face") } }),
    (o) => (faceId === null || (o.FaceMatches ?? []).some((m) => m.Face?.FaceId === faceId) ? [] : ["the indexed face is not found"]));
}
if (has("DetectModerationLabels")) {
  await call("DetectModerationLabels", "cat photo, MinConfidence 0",
    new DetectModerationLabelsCommand({ Image: { Bytes: photo("labels") }, MinConfidence: 0 }),
    (o) => (o.ModerationModelVersion === "7.0" && Array.isArray(o.ContentTypes) ? [] : ["no ModerationModelVersion 7.0 / ContentTypes"]));
  await expectError("DetectModerationLabels", "adapter that does not exist",
    new DetectModerationLabelsCommand({ Image: { Bytes: photo("labels") }, ProjectVersion: `arn:aws:rekognition:${config.region}:123456789012:project/js/version/v/1` }),
    "ResourceNotFoundException", ResourceNotFoundException);
}
if (has("DetectProtectiveEquipment")) {
  await call("DetectProtectiveEquipment", "portrait with a Summary",
    new DetectProtectiveEquipmentCommand({ Image: { Bytes: photo("face") },
      SummarizationAttributes: { MinConfidence: 80, RequiredEquipmentTypes: ["FACE_COVER"] } }),
    (o) => ((o.Persons ?? []).length === 1 && o.Summary ? [] : ["expected one person and a Summary"]));
}
// Rekognition Video: each analysis' Start* sent again with the boto3 run's ClientRequestToken
// (the same job, finished), then its Get*.
for (const [name, video] of Object.entries(config.video?.analyses ?? {})) {
  const Start = rekognition[`Start${name}Command`];
  const Get = rekognition[`Get${name}Command`];
  if (!Start || !Get) continue;
  await call(`Start${name}`, "the boto3 call's ClientRequestToken -> its job", new Start(video.start),
    (o) => (o.JobId === video.jobId ? [] : [`JobId ${o.JobId}, expected ${video.jobId}`]));
  await call(`Get${name}`, "MaxResults 5", new Get({ JobId: video.jobId, MaxResults: 5 }),
    (o) => {
      const problems = [];
      if (o.JobStatus !== "SUCCEEDED") problems.push(`JobStatus ${o.JobStatus}`);
      if (!Array.isArray(o[video.items])) problems.push(`no ${video.items} array`);
      if (o.JobId !== video.jobId) problems.push("the JobId is not echoed");
      return problems;
    });
}
const firstVideo = Object.keys(config.video?.analyses ?? {})[0];
if (firstVideo) {
  const Get = rekognition[`Get${firstVideo}Command`];
  await expectError(`Get${firstVideo}`, "a JobId that does not exist", new Get({ JobId: "0".repeat(64) }),
    "ResourceNotFoundException", ResourceNotFoundException);
}
if (has("CreateStreamProcessor")) {
  const name = `${cid}-processor`;
  const account = "123456789012";
  const made = await call("CreateStreamProcessor", "face search processor", new CreateStreamProcessorCommand({
    Name: name,
    Input: { KinesisVideoStream: { Arn: `arn:aws:kinesisvideo:${config.region}:${account}:stream/${name}/1` } },
    Output: { KinesisDataStream: { Arn: `arn:aws:kinesis:${config.region}:${account}:stream/${name}` } },
    Settings: { FaceSearch: { CollectionId: cid, FaceMatchThreshold: 85 } },
    RoleArn: `arn:aws:iam::${account}:role/js`,
    Tags: { client: "js" },
  }), (o) => (o.StreamProcessorArn?.endsWith(`:streamprocessor/${name}`) ? [] : [`StreamProcessorArn ${o.StreamProcessorArn}`]));
  if (made && has("DescribeStreamProcessor")) {
    await call("DescribeStreamProcessor", "new processor", new DescribeStreamProcessorCommand({ Name: name }),
      (o) => (o.Status === "STOPPED" && o.CreationTimestamp instanceof Date ? [] : [`Status ${o.Status}, CreationTimestamp ${o.CreationTimestamp}`]));
  }
  if (made && has("ListStreamProcessors")) {
    await call("ListStreamProcessors", "lists the processor", new ListStreamProcessorsCommand({}),
      (o) => ((o.StreamProcessors ?? []).some((p) => p.Name === name) ? [] : [`${name} not listed`]));
  }
  if (made && has("StopStreamProcessor")) {
    await expectError("StopStreamProcessor", "a stopped processor", new StopStreamProcessorCommand({ Name: name }),
      "ResourceInUseException", ResourceInUseException);
  }
  if (made && has("UpdateStreamProcessor")) {
    await expectError("UpdateStreamProcessor", "a face search processor",
      new UpdateStreamProcessorCommand({ Name: name, DataSharingPreferenceForUpdate: { OptIn: true } }),
      "InvalidParameterException", InvalidParameterException);
  }
  if (made && has("StartStreamProcessor")) {
    // Its stream plays nothing (no /_emulator/streams mapping): the session fails at once.
    await call("StartStreamProcessor", "a new session", new StartStreamProcessorCommand({ Name: name }),
      (o) => (/^[0-9a-f-]{36}$/.test(o.SessionId ?? "") ? [] : [`SessionId ${o.SessionId}`]));
    for (let i = 0; i < 100; i++) {
      const o = await client.send(new DescribeStreamProcessorCommand({ Name: name }));
      if (o.Status !== "STARTING") break;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
  if (made && has("DeleteStreamProcessor")) {
    await call("DeleteStreamProcessor", "the processor", new DeleteStreamProcessorCommand({ Name: name }));
    await expectError("DeleteStreamProcessor", "processor does not exist", new DeleteStreamProcessorCommand({ Name: name }),
      "ResourceNotFoundException", ResourceNotFoundException);
  }
}
if (has("CreateFaceLivenessSession")) {
  const made = await call("CreateFaceLivenessSession", "AuditImagesLimit 1", new CreateFaceLivenessSessionCommand({ Settings: { AuditImagesLimit: 1 } }),
    (o) => (/^[0-9a-f-]{36}$/.test(o.SessionId ?? "") ? [] : [`SessionId ${o.SessionId}`]));
  if (made && has("GetFaceLivenessSessionResults")) {
    await call("GetFaceLivenessSessionResults", "a new session", new GetFaceLivenessSessionResultsCommand({ SessionId: made.SessionId }),
      (o) => (o.Status === "CREATED" ? [] : [`Status ${o.Status}`]));
  }
}
if (has("GetFaceLivenessSessionResults")) {
  await expectError("GetFaceLivenessSessionResults", "an unknown session",
    new GetFaceLivenessSessionResultsCommand({ SessionId: "00000000-0000-4000-8000-000000000000" }),
    "SessionNotFoundException", SessionNotFoundException);
}
if (has("RecognizeCelebrities")) {
  const name = config.celebrity?.[1] ?? null;
  await call("RecognizeCelebrities", "the seeded astronaut in another picture",
    new RecognizeCelebritiesCommand({ Image: { Bytes: photo("face_other") } }),
    (o) => (name === null || JSON.stringify((o.CelebrityFaces ?? []).map((c) => c.Name)) === JSON.stringify([name])
      ? [] : [`expected ${name} alone`]));
}
if (has("GetCelebrityInfo")) {
  if (config.celebrity) {
    await call("GetCelebrityInfo", "the seeded celebrity", new GetCelebrityInfoCommand({ Id: config.celebrity[0] }),
      (o) => (o.Name === config.celebrity[1] ? [] : [`Name ${o.Name}`]));
  }
  await expectError("GetCelebrityInfo", "an id no celebrity has", new GetCelebrityInfoCommand({ Id: "0conformance0" }),
    "ResourceNotFoundException", ResourceNotFoundException);
}
if (has("StartMediaAnalysisJob") && config.bucket) {
  await call("StartMediaAnalysisJob", "a manifest of two photos",
    new StartMediaAnalysisJobCommand({
      OperationsConfig: { DetectModerationLabels: { MinConfidence: 55 } },
      Input: { S3Object: { Bucket: config.bucket, Name: "manifest.jsonl" } },
      OutputConfig: { S3Bucket: config.bucket, S3KeyPrefix: "js" },
    }),
    (o) => (o.JobId ? [] : ["no JobId"]));
}
if (has("GetMediaAnalysisJob")) {
  if (config.mediaJob) {
    await call("GetMediaAnalysisJob", "the finished job", new GetMediaAnalysisJobCommand({ JobId: config.mediaJob }),
      (o) => (o.Status === "SUCCEEDED" && o.CreationTimestamp instanceof Date ? [] : ["not SUCCEEDED, or CreationTimestamp not a Date"]));
  }
  await expectError("GetMediaAnalysisJob", "a job that does not exist", new GetMediaAnalysisJobCommand({ JobId: "no-such-media-job" }),
    "ResourceNotFoundException", ResourceNotFoundException);
}
if (has("ListMediaAnalysisJobs")) {
  await call("ListMediaAnalysisJobs", "newest first", new ListMediaAnalysisJobsCommand({ MaxResults: 5 }),
    (o) => (Array.isArray(o.MediaAnalysisJobs) ? [] : ["no MediaAnalysisJobs list"]));
}
if (created && has("DeleteCollection")) {
  await call("DeleteCollection", "the collection", new DeleteCollectionCommand({ CollectionId: cid }));
}

// Custom Labels: a model trained from the manifest the boto3 scenario left in the bucket.
const cl = config.customLabels;
if (cl && has("CreateProject")) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const settled = async (arn) => {
    for (let i = 0; i < 1200; i++) {
      const o = await client.send(new DescribeDatasetCommand({ DatasetArn: arn }));
      if (!o.DatasetDescription.Status.endsWith("IN_PROGRESS")) return o.DatasetDescription;
      await sleep(50);
    }
    return null;
  };
  const project = (await call("CreateProject", "new project", new CreateProjectCommand({ ProjectName: cl.project })))?.ProjectArn;
  if (project) {
    await call("DescribeProjects", "the project", new DescribeProjectsCommand({ ProjectNames: [cl.project] }),
      (o) => (o.ProjectDescriptions?.[0]?.CreationTimestamp instanceof Date ? [] : ["CreationTimestamp is not read as a Date"]));
    const source = { GroundTruthManifest: { S3Object: { Bucket: cl.bucket, Name: cl.manifest } } };
    const train = (await call("CreateDataset", "from a manifest", new CreateDatasetCommand({ ProjectArn: project, DatasetType: "TRAIN", DatasetSource: source })))?.DatasetArn;
    const test = (await call("CreateDataset", "empty", new CreateDatasetCommand({ ProjectArn: project, DatasetType: "TEST" })))?.DatasetArn;
    if (train && test) {
      await settled(train);
      await call("DescribeDataset", "complete, with DatasetStats", new DescribeDatasetCommand({ DatasetArn: train }),
        (o) => (o.DatasetDescription?.DatasetStats?.TotalEntries > 0 ? [] : ["no entries"]));
      await call("ListDatasetEntries", "labelled entries", new ListDatasetEntriesCommand({ DatasetArn: train, Labeled: true }));
      await call("ListDatasetLabels", "labels", new ListDatasetLabelsCommand({ DatasetArn: train }));
      await call("UpdateDatasetEntries", "one entry again", new UpdateDatasetEntriesCommand({ DatasetArn: train, Changes: { GroundTruth: new TextEncoder().encode(cl.line) } }));
      await settled(train);
      await call("DistributeDatasetEntries", "20 % to test", new DistributeDatasetEntriesCommand({ Datasets: [{ Arn: train }, { Arn: test }] }));
      await settled(train);
      await settled(test);
      const output = { S3Bucket: cl.bucket, S3KeyPrefix: cl.output };
      const version = (await call("CreateProjectVersion", "from the datasets", new CreateProjectVersionCommand({ ProjectArn: project, VersionName: "v1", OutputConfig: output })))?.ProjectVersionArn;
      if (version) {
        await waitUntilProjectVersionTrainingCompleted({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ProjectArn: project });
        await call("DescribeProjectVersions", "trained", new DescribeProjectVersionsCommand({ ProjectArn: project }),
          (o) => (o.ProjectVersionDescriptions?.[0]?.Status === "TRAINING_COMPLETED" ? [] : ["not TRAINING_COMPLETED"]));
        await expectError("DetectCustomLabels", "model not started", new DetectCustomLabelsCommand({ ProjectVersionArn: version, Image: { Bytes: photo("warm") } }), "ResourceNotReadyException", ResourceNotReadyException);
        await call("StartProjectVersion", "start", new StartProjectVersionCommand({ ProjectVersionArn: version, MinInferenceUnits: 1 }));
        await waitUntilProjectVersionRunning({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { ProjectArn: project });
        await call("DetectCustomLabels", "a warm picture", new DetectCustomLabelsCommand({ ProjectVersionArn: version, Image: { Bytes: photo("warm") } }),
          (o) => (o.CustomLabels?.[0]?.Name === "warm" ? [] : [`labels ${JSON.stringify(o.CustomLabels)}`]));
        await call("StopProjectVersion", "stop", new StopProjectVersionCommand({ ProjectVersionArn: version }));
        await expectError("StopProjectVersion", "not running", new StopProjectVersionCommand({ ProjectVersionArn: version }), "ResourceInUseException", ResourceInUseException);
        const doc = JSON.stringify({ Statement: [{ Effect: "Allow", Principal: { AWS: "111122223333" }, Action: "rekognition:CopyProjectVersion", Resource: version }] });
        const revision = (await call("PutProjectPolicy", "new policy", new PutProjectPolicyCommand({ ProjectArn: project, PolicyName: "share", PolicyDocument: doc })))?.PolicyRevisionId;
        await call("ListProjectPolicies", "one policy", new ListProjectPoliciesCommand({ ProjectArn: project }),
          (o) => (o.ProjectPolicies?.[0]?.PolicyRevisionId === revision ? [] : ["revision"]));
        await call("DeleteProjectPolicy", "current revision", new DeleteProjectPolicyCommand({ ProjectArn: project, PolicyName: "share", PolicyRevisionId: revision }));
        const copy = (await call("CopyProjectVersion", "within the account", new CopyProjectVersionCommand({ SourceProjectArn: project, SourceProjectVersionArn: version, DestinationProjectArn: project, VersionName: "v1-copy", OutputConfig: output })))?.ProjectVersionArn;
        for (const arn of [version, copy].filter(Boolean)) {
          await call("DeleteProjectVersion", "stopped model", new DeleteProjectVersionCommand({ ProjectVersionArn: arn }));
        }
      }
      for (const arn of [train, test]) await call("DeleteDataset", "dataset", new DeleteDatasetCommand({ DatasetArn: arn }));
      for (let i = 0; i < 1200; i++) {
        const o = await client.send(new DescribeProjectsCommand({ ProjectNames: [cl.project] }));
        if (!o.ProjectDescriptions?.[0]?.Datasets?.length) break;
        await sleep(50);
      }
    }
    await expectError("DescribeDataset", "dataset that does not exist", new DescribeDatasetCommand({ DatasetArn: `${project.replace(/\/\d+$/, "")}/dataset/train/1` }), "ResourceNotFoundException", ResourceNotFoundException);
    await call("DeleteProject", "empty project", new DeleteProjectCommand({ ProjectArn: project }));
  }
}

process.stdout.write(JSON.stringify(results));
