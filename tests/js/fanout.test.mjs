// Enhanced fan-out as a second client sees it: the AWS SDK for JavaScript v3
// (@aws-sdk/client-kinesis) against the real `nagare` binary, run with Node's built-in runner.
//
//   cd tests/js && npm ci && NAGARE_BIN=../../target/debug/nagare node --test
//
// One server (temporary data dir, cleartext port + HTTPS port with a self-signed certificate)
// serves three tests:
//   1. cleartext HTTP/2 (h2c, prior knowledge: NodeHttp2Handler calls http2.connect("http://…")):
//      CreateStream, RegisterStreamConsumer, PutRecord, SubscribeToShard from TRIM_HORIZON, records
//      put while subscribed arrive too;
//   2. the same over HTTPS with HTTP/2 chosen by ALPN; the generated certificate is trusted by
//      handing its PEM to the handler as `ca` (nodeHttp2ConnectOptions), nothing is disabled;
//   3. unary calls (ListStreams, DescribeStreamSummary) over HTTP/1.1 with NodeHttpHandler, on
//      the cleartext port and on the HTTPS port (ALPN http/1.1).
// Every wait is bounded, subscriptions are aborted, clients destroyed and the server killed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { Transform, pipeline } from "node:stream";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ListStreamsCommand,
  ListShardsCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  PutRecordCommand,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";

// The SDK warns once per process that releases after January 2027 want Node >= 22; the pinned
// release supports Node 20, so keep the test output quiet.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NAGARE_BIN = path.resolve(HERE, process.env.NAGARE_BIN ?? "../../target/debug/nagare");
const CREDENTIALS = { accessKeyId: "AKIDNAGAREJSTEST", secretAccessKey: "nagare-js-test-secret" };
// Each test takes about a second; these bounds only matter when something hangs.
const TEST_TIMEOUT_MS = 15_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; fails after `timeoutMs`, naming `what`. */
async function waitUntil(what, fn, { timeoutMs = 8_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** TAP diagnostics are one line each: report multi-line text line by line. */
function diagnoseLines(t, text) {
  for (const line of text.split("\n")) t.diagnostic(line);
}

/** Rejects after `ms` unless `promise` settles first. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// The server

let server; // { proc, exited, dataDir, stderr(), httpUrl, httpsUrl, certPath, ca }

// nagare runs under a small sh watchdog that holds the write end of a pipe from this process:
// when the pipe closes (stopServer, or this process dying in any way, even SIGKILL from the test
// runner when its output is cut short), the watchdog sends nagare SIGTERM, then SIGKILL after 3 s,
// and removes the temporary data dir. sh exits with nagare's status, so an early exit of the
// server is still seen here.
const WATCHDOG = `
exec 3<&0
"$0" "$@" </dev/null &
pid=$!
{
  read -r _ <&3
  kill -TERM "$pid" 2>/dev/null
  n=0
  while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 30 ]; do sleep 0.1; n=$((n + 1)); done
  kill -KILL "$pid" 2>/dev/null
  rm -rf "$NAGARE_JS_DATA_DIR"
} &
wait "$pid"
`;

async function startServer() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "nagare-js-"));
  const args = [
    "serve",
    "--listen", "127.0.0.1:0",
    "--data-dir", dataDir,
    "--fsync", "never",
    "--throughput-limits", "off",
    // Streams and consumers stay CREATING briefly, so the waits below really wait.
    "--create-stream-ms", "300",
    "--tls-listen", "127.0.0.1:0",
    "--tls-self-signed",
  ];
  const proc = spawn("/bin/sh", ["-c", WATCHDOG, NAGARE_BIN, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", NAGARE_JS_DATA_DIR: dataDir },
  });
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const srv = { proc, exited, dataDir, stderr: () => stderr };

  let stdout = "";
  try {
    const endpoints = await withTimeout(
      new Promise((resolve, reject) => {
        proc.on("error", reject);
        exited.then(({ code, signal }) =>
          reject(new Error(`${NAGARE_BIN} exited early (code ${code}, signal ${signal}); stderr:\n${stderr}`)),
        );
        proc.stdout.setEncoding("utf8");
        proc.stdout.on("data", (d) => {
          stdout += d;
          const h = stdout.match(/^nagare listening on (http:\/\/\S+)\s*$/m);
          const s = stdout.match(/^nagare listening on (https:\/\/\S+) \(certificate (.+)\)\s*$/m);
          if (h && s) resolve({ httpUrl: h[1], httpsUrl: s[1], certPath: s[2] });
        });
      }),
      10_000,
      `the two "nagare listening on" lines from ${NAGARE_BIN}`,
    );
    Object.assign(srv, endpoints, { ca: readFileSync(endpoints.certPath) });
    return srv;
  } catch (e) {
    await stopServer(srv);
    e.message += `\nstdout so far: ${JSON.stringify(stdout)}\nstderr so far:\n${stderr}`;
    throw e;
  }
}

async function stopServer(srv) {
  if (!srv) return;
  const { proc, exited, dataDir } = srv;
  proc.stdin.end(); // the watchdog terminates nagare
  const gone = await withTimeout(exited, 5_000, "nagare to exit").then(() => true, () => false);
  if (!gone) proc.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
}

before(async () => {
  server = await startServer();
});

after(async () => {
  await stopServer(server);
  server = undefined;
});

// ---------------------------------------------------------------------------------------------
// Helpers on the SDK

function client(endpoint, requestHandler) {
  return new KinesisClient({
    region: "us-east-1",
    endpoint,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler,
  });
}

async function createActiveStream(kinesis, name) {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  const summary = await waitUntil(`stream ${name} ACTIVE`, async () => {
    const { StreamDescriptionSummary: s } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: name }),
    );
    return s.StreamStatus === "ACTIVE" && s;
  });
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: name }));
  assert.equal(Shards.length, 1);
  return { streamARN: summary.StreamARN, shardId: Shards[0].ShardId };
}

async function registerActiveConsumer(kinesis, streamARN, consumerName) {
  const { Consumer } = await kinesis.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamARN, ConsumerName: consumerName }),
  );
  assert.equal(Consumer.ConsumerName, consumerName);
  assert.match(Consumer.ConsumerARN, new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/.+/consumer/${consumerName}:\\d+$`));
  assert.ok(["CREATING", "ACTIVE"].includes(Consumer.ConsumerStatus), Consumer.ConsumerStatus);
  await waitUntil(`consumer ${consumerName} ACTIVE`, async () => {
    const { ConsumerDescription: d } = await kinesis.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }),
    );
    return d.ConsumerStatus === "ACTIVE";
  });
  // The other way to name a consumer: StreamARN + ConsumerName.
  const { ConsumerDescription: byName } = await kinesis.send(
    new DescribeStreamConsumerCommand({ StreamARN: streamARN, ConsumerName: consumerName }),
  );
  assert.equal(byName.ConsumerARN, Consumer.ConsumerARN);
  assert.equal(byName.StreamARN, streamARN);
  return Consumer.ConsumerARN;
}

/**
 * Wraps a request handler and keeps, per call, what the SDK sent (headers) and what came back
 * (status, headers and, for event streams, the raw body bytes as they reached the SDK), so the
 * wire format can be checked independently of the SDK's decoding, and shown when a test fails.
 */
class RecordingHandler {
  constructor(inner) {
    this.inner = inner;
    this.exchanges = [];
  }
  get metadata() {
    return this.inner.metadata;
  }
  updateHttpClientConfig(key, value) {
    return this.inner.updateHttpClientConfig(key, value);
  }
  httpHandlerConfigs() {
    return this.inner.httpHandlerConfigs();
  }
  destroy() {
    this.inner.destroy();
  }
  async handle(request, options) {
    const header = (name) =>
      Object.entries(request.headers).find(([k]) => k.toLowerCase() === name)?.[1];
    const ex = { target: header("x-amz-target"), method: request.method, requestHeaders: { ...request.headers }, chunks: [] };
    this.exchanges.push(ex);
    const out = await this.inner.handle(request, options);
    const res = out.response;
    ex.status = res.statusCode;
    ex.responseHeaders = res.headers;
    if (String(res.headers["content-type"]).startsWith("application/vnd.amazon.eventstream")) {
      const tap = new Transform({
        transform(chunk, _enc, cb) {
          ex.chunks.push(Buffer.from(chunk));
          cb(null, chunk);
        },
      });
      pipeline(res.body, tap, () => {});
      res.body = tap;
    }
    return out;
  }
  describe() {
    return this.exchanges
      .map((e) => `${e.method} ${e.target} -> ${e.status} ${JSON.stringify(e.responseHeaders)}\n  sent ${JSON.stringify(e.requestHeaders)}`)
      .join("\n");
  }
}

/** Splits `application/vnd.amazon.eventstream` bytes into messages (headers + payload), checking both CRCs. */
function parseEventStream(buf) {
  const messages = [];
  let off = 0;
  while (buf.length - off >= 12) {
    const total = buf.readUInt32BE(off);
    const headersLen = buf.readUInt32BE(off + 4);
    if (buf.length - off < total) break;
    if (zlib.crc32) {
      assert.equal(buf.readUInt32BE(off + 8), zlib.crc32(buf.subarray(off, off + 8)), `prelude CRC of message ${messages.length}`);
      assert.equal(buf.readUInt32BE(off + total - 4), zlib.crc32(buf.subarray(off, off + total - 4)), `message CRC of message ${messages.length}`);
    }
    const headers = {};
    let h = off + 12;
    const end = h + headersLen;
    while (h < end) {
      const nameLen = buf[h];
      const name = buf.toString("utf8", h + 1, h + 1 + nameLen);
      h += 1 + nameLen;
      const type = buf[h++];
      let value;
      switch (type) {
        case 0: value = true; break;
        case 1: value = false; break;
        case 2: value = buf.readInt8(h); h += 1; break;
        case 3: value = buf.readInt16BE(h); h += 2; break;
        case 4: value = buf.readInt32BE(h); h += 4; break;
        case 5: case 8: value = buf.readBigInt64BE(h); h += 8; break;
        case 6: case 7: {
          const len = buf.readUInt16BE(h);
          value = type === 7 ? buf.toString("utf8", h + 2, h + 2 + len) : buf.subarray(h + 2, h + 2 + len);
          h += 2 + len;
          break;
        }
        case 9: value = buf.subarray(h, h + 16).toString("hex"); h += 16; break;
        default: throw new Error(`unknown event-stream header value type ${type} for ${name}`);
      }
      headers[name] = value;
    }
    messages.push({ headers, payload: buf.toString("utf8", end, off + total - 4) });
    off += total;
  }
  return { messages, leftover: buf.length - off };
}

/** Records with text and binary payloads (every byte value turns up across a run). */
function payloads(prefix, n) {
  return Array.from({ length: n }, (_, i) => {
    const text = Buffer.from(`${prefix}-${i}:`);
    const binary = Buffer.from(Array.from({ length: 64 }, (_, j) => (i * 64 + j * 37) % 256));
    return Buffer.concat([text, binary]);
  });
}

async function putAll(kinesis, streamName, datas) {
  const seqs = [];
  for (const [i, data] of datas.entries()) {
    const out = await kinesis.send(
      new PutRecordCommand({ StreamName: streamName, Data: data, PartitionKey: `pk-${i}` }),
    );
    assert.match(out.SequenceNumber, /^\d+$/);
    seqs.push(out.SequenceNumber);
  }
  return seqs;
}

/**
 * SubscribeToShard, with the event stream drained in the background into `state`.
 * `close()` aborts the HTTP/2 stream and waits (bounded) for the pump to stop.
 */
async function subscribe(kinesis, consumerARN, shardId, startingPosition) {
  const ac = new AbortController();
  const out = await withTimeout(
    kinesis.send(
      new SubscribeToShardCommand({ ConsumerARN: consumerARN, ShardId: shardId, StartingPosition: startingPosition }),
      { abortSignal: ac.signal },
    ),
    10_000,
    "SubscribeToShard response",
  ).catch((e) => {
    ac.abort();
    throw e;
  });
  const state = { events: [], records: [], other: [], error: null, ended: false };
  const pump = (async () => {
    try {
      for await (const event of out.EventStream) {
        if (event.SubscribeToShardEvent) {
          state.events.push(event.SubscribeToShardEvent);
          state.records.push(...event.SubscribeToShardEvent.Records);
        } else {
          state.other.push(event);
        }
      }
    } catch (e) {
      if (!ac.signal.aborted) state.error = e;
    } finally {
      state.ended = true;
    }
  })();
  const close = async () => {
    ac.abort();
    await withTimeout(pump, 3_000, "event stream pump to stop after abort").catch(() => {});
  };
  return { out, state, close };
}

/** Waits until `want` records arrived; fails at once if the stream errors or ends early. */
async function waitForRecords(sub, want, what) {
  await waitUntil(
    what,
    () => {
      if (sub.state.error) throw sub.state.error;
      if (sub.state.records.length >= want) return true;
      if (sub.state.ended) throw new Error(`event stream ended after ${sub.state.records.length}/${want} records`);
      return false;
    },
    { timeoutMs: 6_000, intervalMs: 20 },
  );
}

function assertRecords(got, datas, seqs) {
  assert.equal(got.length, datas.length, "record count");
  for (const [i, r] of got.entries()) {
    assert.ok(r.Data instanceof Uint8Array, `record ${i} Data is a Uint8Array`);
    assert.deepEqual(Buffer.from(r.Data), datas[i], `record ${i} data bytes`);
    assert.equal(r.SequenceNumber, seqs[i], `record ${i} sequence number`);
    assert.ok(r.ApproximateArrivalTimestamp instanceof Date, `record ${i} ApproximateArrivalTimestamp`);
  }
  for (let i = 1; i < got.length; i++) {
    assert.ok(BigInt(got[i].SequenceNumber) > BigInt(got[i - 1].SequenceNumber), "sequence numbers increase");
  }
}

function assertEvents(events) {
  assert.ok(events.length >= 1, "at least one SubscribeToShardEvent");
  for (const e of events) {
    assert.equal(typeof e.ContinuationSequenceNumber, "string", "ContinuationSequenceNumber present");
    assert.match(e.ContinuationSequenceNumber, /^\d+$/);
    assert.equal(typeof e.MillisBehindLatest, "number", "MillisBehindLatest present");
    assert.ok(Array.isArray(e.Records));
    // An open shard: no ChildShards, or an empty list.
    assert.ok(!e.ChildShards || e.ChildShards.length === 0, "no ChildShards on an open shard");
  }
}

/** The whole fan-out scenario, over whichever endpoint and HTTP/2 handler it is given. */
async function fanOutScenario(t, endpoint, innerHandler, label) {
  const handler = new RecordingHandler(innerHandler);
  const kinesis = client(endpoint, handler);
  const streamName = `js-fanout-${label}`;
  let sub;
  try {
    const { streamARN, shardId } = await createActiveStream(kinesis, streamName);
    const consumerARN = await registerActiveConsumer(kinesis, streamARN, `js-consumer-${label}`);

    const first = payloads(`${label}-before`, 5);
    const firstSeqs = await putAll(kinesis, streamName, first);

    sub = await subscribe(kinesis, consumerARN, shardId, { Type: "TRIM_HORIZON" });
    await waitForRecords(sub, first.length, `the ${first.length} records put before subscribing`);
    assertRecords(sub.state.records.slice(0, first.length), first, firstSeqs);
    sub.state.records.slice(0, first.length).forEach((r, i) => assert.equal(r.PartitionKey, `pk-${i}`));

    // Records put while the subscription is open are pushed on it.
    const second = payloads(`${label}-during`, 4);
    const secondSeqs = await putAll(kinesis, streamName, second);
    await waitForRecords(sub, first.length + second.length, "the records put while subscribed");
    assertRecords(sub.state.records, [...first, ...second], [...firstSeqs, ...secondSeqs]);
    sub.state.records.slice(first.length).forEach((r, i) => assert.equal(r.PartitionKey, `pk-${i}`));

    assertEvents(sub.state.events);
    assert.deepEqual(sub.state.other, [], "no events other than SubscribeToShardEvent");
    // The last event's continuation is at or after the last record.
    const lastEvent = sub.state.events.at(-1);
    assert.ok(BigInt(lastEvent.ContinuationSequenceNumber) >= BigInt(secondSeqs.at(-1)));
    await sub.close();

    // The same exchange on the wire: SigV4-signed awsJson1.1 POST, answered with 200 and an
    // event stream whose first message is the initial-response, then SubscribeToShardEvents.
    const ex = handler.exchanges.find((e) => e.target === "Kinesis_20131202.SubscribeToShard");
    assert.ok(ex, "SubscribeToShard went through the handler");
    assert.equal(ex.method, "POST");
    assert.match(String(ex.requestHeaders["content-type"]), /^application\/x-amz-json-1\.1/);
    assert.match(String(ex.requestHeaders.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDNAGAREJSTEST\/\d{8}\/us-east-1\/kinesis\/aws4_request/);
    assert.equal(ex.status, 200);
    assert.equal(ex.responseHeaders["content-type"], "application/vnd.amazon.eventstream");
    const { messages, leftover } = parseEventStream(Buffer.concat(ex.chunks));
    assert.equal(leftover, 0, "no partial message on the wire");
    const kinds = messages.map((m) => `${m.headers[":message-type"]}/${m.headers[":event-type"]}`);
    assert.equal(kinds[0], "event/initial-response", `message kinds: ${kinds}`);
    assert.equal(messages[0].headers[":content-type"], "application/x-amz-json-1.1");
    assert.deepEqual(JSON.parse(messages[0].payload), {});
    assert.ok(kinds.slice(1).every((k) => k === "event/SubscribeToShardEvent"), `message kinds: ${kinds}`);
    assert.ok(messages.length - 1 >= sub.state.events.length, "every event the SDK decoded was on the wire");
    for (const m of messages.slice(1)) {
      assert.equal(m.headers[":content-type"], "application/x-amz-json-1.1");
      const body = JSON.parse(m.payload);
      assert.ok("ContinuationSequenceNumber" in body && "MillisBehindLatest" in body && "Records" in body, m.payload);
    }

    t.diagnostic(
      `${label}: ${sub.state.records.length} records in ${sub.state.events.length} events ` +
        `(${messages.length} event-stream messages incl. initial-response), ` +
        `last ContinuationSequenceNumber ${lastEvent.ContinuationSequenceNumber}`,
    );
  } catch (e) {
    diagnoseLines(t, `exchanges:\n${handler.describe()}`);
    diagnoseLines(t, `server stderr (tail):\n${server.stderr().slice(-4000)}`);
    throw e;
  } finally {
    if (sub) await sub.close();
    kinesis.destroy();
  }
}

/** Opens an HTTP/2 session the way NodeHttp2Handler does and reports the negotiated protocol. */
async function h2Protocol(url, options) {
  const session = http2.connect(url, options);
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        session.once("connect", resolve);
        session.once("error", reject);
      }),
      5_000,
      `HTTP/2 connect to ${url}`,
    );
    return session.alpnProtocol;
  } finally {
    session.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

test("enhanced fan-out over cleartext HTTP/2 (h2c prior knowledge)", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // http2.connect("http://…") sends the HTTP/2 preface straight away (no Upgrade).
  assert.equal(await h2Protocol(server.httpUrl), "h2c");
  const handler = new NodeHttp2Handler({ requestTimeout: 10_000 });
  assert.equal(handler.metadata.handlerProtocol, "h2");
  await fanOutScenario(t, server.httpUrl, handler, "h2c");
});

test("enhanced fan-out over HTTPS with HTTP/2 (ALPN h2)", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  assert.ok(server.httpsUrl.startsWith("https://"));
  // Trust the generated certificate by passing it as `ca`; certificate checking stays on.
  const tls = { ca: server.ca };
  assert.equal(await h2Protocol(server.httpsUrl, tls), "h2");
  // Without the certificate the connection is refused by the client, so `ca` is what makes it work.
  await assert.rejects(h2Protocol(server.httpsUrl, {}), /self[- ]signed|unable to verify|certificate/i);
  const handler = new NodeHttp2Handler({ requestTimeout: 10_000, nodeHttp2ConnectOptions: tls });
  await fanOutScenario(t, server.httpsUrl, handler, "h2-tls");
});

test("unary calls over HTTP/1.1 (NodeHttpHandler), cleartext and HTTPS", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // KinesisClient defaults to NodeHttp2Handler, so HTTP/1.1 has to be asked for explicitly.
  class CountingAgent extends http.Agent {
    connections = 0;
    createConnection(...args) {
      this.connections++;
      return super.createConnection(...args);
    }
  }
  class CountingHttpsAgent extends https.Agent {
    connections = 0;
    createConnection(...args) {
      this.connections++;
      return super.createConnection(...args);
    }
  }
  const httpAgent = new CountingAgent({ keepAlive: true });
  const httpsAgent = new CountingHttpsAgent({ keepAlive: true, ca: server.ca, ALPNProtocols: ["http/1.1"] });

  const cases = [
    ["http/1.1", server.httpUrl, httpAgent],
    ["http/1.1 over TLS", server.httpsUrl, httpsAgent],
  ];
  for (const [label, endpoint, agent] of cases) {
    const handler = new NodeHttpHandler({ httpAgent, httpsAgent, requestTimeout: 10_000 });
    assert.equal(handler.metadata.handlerProtocol, "http/1.1");
    const kinesis = client(endpoint, handler);
    try {
      const name = `js-unary-${label.replace(/[^a-z0-9]+/gi, "-")}`;
      await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
      const s = await waitUntil(`stream ${name} ACTIVE over ${label}`, async () => {
        const { StreamDescriptionSummary: d } = await kinesis.send(
          new DescribeStreamSummaryCommand({ StreamName: name }),
        );
        return d.StreamStatus === "ACTIVE" && d;
      });
      assert.equal(s.StreamName, name);
      assert.equal(s.OpenShardCount, 2);
      assert.match(s.StreamARN, new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${name}$`));
      assert.ok(s.StreamCreationTimestamp instanceof Date);

      const listed = await kinesis.send(new ListStreamsCommand({}));
      assert.ok(listed.StreamNames.includes(name), `${name} in ${listed.StreamNames}`);
      const mine = listed.StreamSummaries.find((x) => x.StreamName === name);
      assert.equal(mine.StreamStatus, "ACTIVE");
      assert.equal(mine.StreamARN, s.StreamARN);
    } catch (e) {
      diagnoseLines(t, `server stderr (tail):\n${server.stderr().slice(-4000)}`);
      throw e;
    } finally {
      kinesis.destroy();
    }
    assert.ok(agent.connections >= 1, `the ${label} calls went through the HTTP/1.1 agent`);
  }
  httpAgent.destroy();
  httpsAgent.destroy();
});
