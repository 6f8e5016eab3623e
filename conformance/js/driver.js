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
  RecognizeCelebritiesCommand,
  GetCelebrityInfoCommand,
  StartMediaAnalysisJobCommand,
  GetMediaAnalysisJobCommand,
  ListMediaAnalysisJobsCommand,
  ResourceNotFoundException,
  InvalidImageFormatException,
  RekognitionServiceException,
} from "@aws-sdk/client-rekognition";

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

process.stdout.write(JSON.stringify(results));
