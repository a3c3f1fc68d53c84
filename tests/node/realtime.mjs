// GraphQL subscriptions through the real npm clients against a running server:
//
//   1. graphql-ws (`graphql-transport-ws` over `ws`): `commChanges(customerId: "node-c1")`, and
//      `commChanges` of every customer beside it. Once both are live (see below), createComm
//      for node-c1, createComm for another customer, updateComm of the first (a new subject),
//      deleteComm of it: the filtered subscription gets exactly CREATED, UPDATED (with the new
//      subject), DELETED (with `comm` null) of that id, in that order, and nothing of the
//      other customer, whose change the unfiltered one does get (so it was published).
//   2. graphql-ws: `commChanges(customerId: "")` ends through the sink's `error` with an error
//      whose `extensions.code` is BAD_USER_INPUT.
//   3. graphql-sse, distinct connections mode: `mediaChanges(orderId: "node-o1")`, once live,
//      gets the CREATED of a createMedia of that order, and nothing of another order's media.
//
// Neither protocol tells when a subscription is live on the server (registered with the change
// feed), so there are no sleeps: probes — changes that the subscription matches — are made
// until one arrives, then the last probe made is awaited (it was made after the subscription
// went live, so it must arrive); only then does the checked sequence start.
//
//   node tests/node/realtime.mjs http://127.0.0.1:8080
//
// Exit code 0 and one summary line `ok realtime: …` on success; 1 with the reason, and what
// each subscription received, otherwise (2 for a usage error). Run by tests/api/clients.rs.
import WebSocket from 'ws';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';

const OVERALL_MS = 30_000;
/** How long one probe waits for its change before the next probe is made. */
const PROBE_MS = 250;
/** At most this many probes per liveness check. */
const MAX_PROBES = 40;
/** How long an awaited change may take once a subscription is live. */
const ARRIVAL_MS = 10_000;

const [base, ...rest] = process.argv.slice(2);
if (!base || rest.length || !/^https?:\/\//.test(base)) {
  console.error('usage: node realtime.mjs <server-base-url, e.g. http://127.0.0.1:8080>');
  process.exit(2);
}
const httpUrl = `${base.replace(/\/+$/, '').replace(/\/graphql$/, '')}/graphql`;
const wsUrl = httpUrl.replace(/^http/, 'ws');

/** Every subscription's record, printed on failure. */
const feeds = [];
/** What the WebSocket client reported: connections, closes, errors. */
const socketLog = [];

function fail(message) {
  console.error(`FAIL realtime: ${message}`);
  for (const feed of feeds) {
    console.error(`  ${feed.name}: ${feed.events.length} event(s)`);
    for (const event of feed.events) console.error(`    ${JSON.stringify(event)}`);
    if (feed.error !== undefined) console.error(`    error: ${describe(feed.error)}`);
    if (feed.completed) console.error('    completed');
  }
  for (const line of socketLog) console.error(`  websocket: ${line}`);
  process.exit(1);
}

const timer = setTimeout(() => fail(`not done after ${OVERALL_MS / 1000} s`), OVERALL_MS);

function check(condition, message) {
  if (!condition) fail(message);
}

/** A readable form of what a sink's `error` got: GraphQL errors, a CloseEvent, an Error. */
function describe(error) {
  if (Array.isArray(error)) return `GraphQL errors ${JSON.stringify(error)}`;
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) {
    return `socket closed with code ${error.code} reason ${JSON.stringify(String(error.reason))}`;
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  // ws's ErrorEvent
  if (error && typeof error === 'object' && 'message' in error) return String(error.message);
  return JSON.stringify(error);
}

/** Runs a GraphQL operation over plain HTTP (global fetch) and returns its data. */
async function post(query, variables) {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    fail(`POST ${httpUrl} answered ${response.status} with no JSON: ${text}`);
  }
  check(
    response.status === 200 && !json.errors && json.data,
    `POST ${JSON.stringify({ query, variables })} answered ${response.status}: ${text}`,
  );
  return json.data;
}

const createComm = async (customerId, subject) =>
  (
    await post(
      'mutation($input: CommCreateInput!) { createComm(input: $input) { id customerId subject } }',
      { input: { customerId, type: 'NOTE', direction: 'INTERNAL', subject } },
    )
  ).createComm.id;

const updateComm = async (id, subject) =>
  (
    await post(
      'mutation($id: ID!, $input: CommUpdateInput!) { updateComm(id: $id, input: $input) { id subject } }',
      { id, input: { subject } },
    )
  ).updateComm;

const deleteComm = async (id) =>
  (await post('mutation($id: ID!) { deleteComm(id: $id) }', { id })).deleteComm;

const createMedia = async (orderId, filename) =>
  (
    await post('mutation($input: MediaCreateInput!) { createMedia(input: $input) { id filename } }', {
      input: { orderId, filename, nextcloudPath: `/orders/${orderId}/${filename}` },
    })
  ).createMedia.id;

/**
 * A subscription's record: the payloads its sink got (`field` picks the change out of
 * `data`), its error or completion, and waiters woken on each of them.
 */
function feed(name, field) {
  const record = { name, events: [], error: undefined, completed: false, wake: new Set() };
  const wakeAll = () => {
    for (const wake of record.wake) wake();
  };
  record.sink = {
    next(result) {
      if (result.errors || !result.data?.[field]) {
        record.error = result.errors ?? result;
      } else {
        record.events.push(result.data[field]);
      }
      wakeAll();
    },
    error(error) {
      record.error = error ?? 'error without a reason';
      wakeAll();
    },
    complete() {
      record.completed = true;
      wakeAll();
    },
  };
  feeds.push(record);
  return record;
}

/**
 * Resolves with `true` once `condition(record)` holds, or `false` after `ms`; a failure at once
 * if the subscription errs or completes first (unless `allowEnd`).
 */
function until(record, condition, ms, allowEnd = false) {
  return new Promise((resolve) => {
    const done = (value) => {
      clearTimeout(deadline);
      record.wake.delete(test);
      resolve(value);
    };
    const test = () => {
      if (condition(record)) return done(true);
      if (!allowEnd && record.error !== undefined) {
        fail(`${record.name} failed: ${describe(record.error)}`);
      }
      if (!allowEnd && record.completed) fail(`${record.name} completed unexpectedly`);
      return undefined;
    };
    const deadline = setTimeout(() => done(false), ms);
    record.wake.add(test);
    test();
  });
}

/** Like [`until`], but a failure when `condition` does not hold in time. */
async function arrives(record, condition, what) {
  if (!(await until(record, condition, ARRIVAL_MS))) {
    fail(`${record.name}: ${what} did not arrive in ${ARRIVAL_MS / 1000} s`);
  }
}

/**
 * Makes probes (`probe(n)` returns the id of a change every record in `records` matches) until
 * each record got one, then waits for the last probe on each: every record is live. Returns
 * the probes' ids and checks that each record got exactly the probes made after it went live
 * (a tail of them, in order).
 */
async function live(records, probe) {
  const probes = [];
  const seenProbe = (r) => r.events.some((e) => probes.includes(e.id));
  while (!records.every(seenProbe)) {
    check(probes.length < MAX_PROBES, `no probe of ${MAX_PROBES} arrived: not live`);
    probes.push(await probe(probes.length));
    await Promise.all(records.map((r) => until(r, seenProbe, PROBE_MS)));
  }
  const last = probes.at(-1);
  for (const record of records) {
    await arrives(record, (r) => r.events.some((e) => e.id === last), `the last probe ${last}`);
    const ids = record.events.map((e) => e.id);
    const tail = probes.slice(probes.length - ids.length);
    check(
      JSON.stringify(ids) === JSON.stringify(tail) &&
        record.events.every((e) => e.kind === 'CREATED'),
      `${record.name}: the probes ${JSON.stringify(probes)} arrived as ${JSON.stringify(record.events)}`,
    );
  }
  return probes;
}

/** The events of `record` from index `from`, as `KIND id`. */
const kinds = (record, from) => record.events.slice(from).map((e) => `${e.kind} ${e.id}`);

// --- graphql-ws -------------------------------------------------------------------------

const wsClient = createWsClient({
  url: wsUrl,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  lazy: false,
  onNonLazyError: (error) => fail(`the WebSocket connection failed: ${describe(error)}`),
  on: {
    connected: () => socketLog.push('connected (connection_ack)'),
    closed: (event) =>
      socketLog.push(`closed: code ${event?.code} reason ${JSON.stringify(String(event?.reason ?? ''))}`),
    error: (error) => socketLog.push(`error: ${describe(error)}`),
  },
});

const COMM_FIELDS = 'kind id customerId at comm { id subject }';
const customer = 'node-c1';
const other = 'node-c2';

const filtered = feed('graphql-ws commChanges(customerId: "node-c1")', 'commChanges');
const everyone = feed('graphql-ws commChanges', 'commChanges');
wsClient.subscribe(
  { query: `subscription { commChanges(customerId: "${customer}") { ${COMM_FIELDS} } }` },
  filtered.sink,
);
wsClient.subscribe({ query: `subscription { commChanges { ${COMM_FIELDS} } }` }, everyone.sink);

const commProbes = await live([filtered, everyone], (n) => createComm(customer, `probe ${n}`));
const fromFiltered = filtered.events.length;
const fromEveryone = everyone.events.length;

const id = await createComm(customer, 'Delivery date?');
const otherId = await createComm(other, 'Not for node-c1');
const updated = await updateComm(id, 'Delivery on Friday');
check(updated.subject === 'Delivery on Friday', `updateComm answered ${JSON.stringify(updated)}`);
check((await deleteComm(id)) === id, `deleteComm did not answer ${id}`);

const deleted = (r) => r.events.slice(r === filtered ? fromFiltered : fromEveryone).some(
  (e) => e.id === id && e.kind === 'DELETED',
);
await arrives(filtered, deleted, `DELETED ${id}`);
await arrives(everyone, deleted, `DELETED ${id}`);

// In commit order: the other customer's change, made between the CREATED and the UPDATED,
// would have come before the DELETED.
check(
  JSON.stringify(kinds(filtered, fromFiltered)) ===
    JSON.stringify([`CREATED ${id}`, `UPDATED ${id}`, `DELETED ${id}`]),
  `${filtered.name} got ${JSON.stringify(kinds(filtered, fromFiltered))}, not CREATED, UPDATED, DELETED of ${id} alone`,
);
check(
  JSON.stringify(kinds(everyone, fromEveryone)) ===
    JSON.stringify([`CREATED ${id}`, `CREATED ${otherId}`, `UPDATED ${id}`, `DELETED ${id}`]),
  `${everyone.name} got ${JSON.stringify(kinds(everyone, fromEveryone))}, not the four changes made`,
);
const [created, update, deletion] = filtered.events.slice(fromFiltered);
for (const change of [created, update, deletion]) {
  check(
    change.customerId === customer && typeof change.at === 'string' && !Number.isNaN(Date.parse(change.at)),
    `${change.kind} has customerId ${JSON.stringify(change.customerId)} and at ${JSON.stringify(change.at)}`,
  );
}
check(
  created.comm?.id === id && created.comm.subject === 'Delivery date?',
  `CREATED carries ${JSON.stringify(created.comm)}`,
);
check(
  update.comm?.id === id && update.comm.subject === 'Delivery on Friday',
  `UPDATED carries ${JSON.stringify(update.comm)}, not the new subject`,
);
check(deletion.comm === null, `DELETED carries ${JSON.stringify(deletion.comm)}, not null`);

// A bad argument: the subscription ends through `error` with BAD_USER_INPUT.
const invalid = feed('graphql-ws commChanges(customerId: "")', 'commChanges');
wsClient.subscribe(
  { query: `subscription { commChanges(customerId: "") { ${COMM_FIELDS} } }` },
  invalid.sink,
);
if (!(await until(invalid, (r) => r.error !== undefined || r.completed || r.events.length, ARRIVAL_MS, true))) {
  fail(`${invalid.name}: no answer in ${ARRIVAL_MS / 1000} s`);
}
check(
  Array.isArray(invalid.error) &&
    invalid.error.some((e) => e?.extensions?.code === 'BAD_USER_INPUT') &&
    !invalid.events.length,
  `${invalid.name} should end through sink.error with BAD_USER_INPUT, got ${
    invalid.error === undefined ? 'no error' : describe(invalid.error)
  }${invalid.completed ? ' (completed)' : ''}`,
);
// The socket survived it: the filtered subscription is still there and sees a new change.
const after = await createComm(customer, 'after the bad argument');
await arrives(filtered, (r) => r.events.some((e) => e.id === after), `CREATED ${after}`);

// --- graphql-sse ------------------------------------------------------------------------

const sseClient = createSseClient({ url: httpUrl, singleConnection: false, retryAttempts: 0 });
const order = 'node-o1';
const media = feed('graphql-sse mediaChanges(orderId: "node-o1")', 'mediaChanges');
const disposeSse = sseClient.subscribe(
  { query: `subscription { mediaChanges(orderId: "${order}") { kind id orderId media { filename } } }` },
  media.sink,
);
const mediaProbes = await live([media], (n) => createMedia(order, `probe-${n}.jpg`));
const fromMedia = media.events.length;
await createMedia('node-o2', 'other-order.pdf');
const mediaId = await createMedia(order, 'invoice-1042.pdf');
await arrives(
  media,
  (r) => r.events.slice(fromMedia).some((e) => e.id === mediaId),
  `CREATED ${mediaId}`,
);
check(
  JSON.stringify(kinds(media, fromMedia)) === JSON.stringify([`CREATED ${mediaId}`]),
  `${media.name} got ${JSON.stringify(kinds(media, fromMedia))}, not CREATED ${mediaId} alone`,
);
const mediaChange = media.events.at(-1);
check(
  mediaChange.orderId === order && mediaChange.media?.filename === 'invoice-1042.pdf',
  `CREATED ${mediaId} carries ${JSON.stringify(mediaChange)}`,
);
disposeSse();
sseClient.dispose();

await wsClient.dispose();
clearTimeout(timer);
console.log(
  `ok realtime: graphql-ws CREATED, UPDATED, DELETED in order, none of another customer ` +
    `(${commProbes.length} probe(s) to be live), BAD_USER_INPUT through error; graphql-sse ` +
    `CREATED of order ${order} (${mediaProbes.length} probe(s))`,
);
process.exit(0);
