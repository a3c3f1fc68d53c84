// The GraphiQL page in a real browser: Debian's Chromium (headless, through playwright-core)
// opens <base>/graphql with a query preset in the URL fragment, waits for the editor, runs the
// query and waits for its result in the result pane. Every request the browser makes must go to
// <base>'s origin. With --token, the server has auth on: running without credentials must
// answer UNAUTHENTICATED, then the token is typed into GraphiQL's headers editor and the query
// must succeed, its request carrying the bearer token. Then a subscription runs in the page:
// typed into the query editor and started with the run button, it opens a WebSocket to
// ws://<host>/graphql (graphql-transport-ws; with --token its connection_init payload carries
// the headers editor's Authorization); comms created from here (POST /graphql) must show in the
// result pane, and stopping it must close the socket.
//
//   node tests/node/graphiql.mjs http://127.0.0.1:8080 [--token TOKEN] [--total N]
//
// --total: the `total` the query must show (default 0). Exit code 0 and one summary line on
// success; 1 with the reason otherwise. Run by tests/api/graphiql.rs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const QUERY = '{ comms(customerId: "browser") { total } }';
const SUBSCRIPTION = 'subscription { commChanges(customerId: "gq-sub") { kind comm { subject } } }';
// How long one created comm may take to show before another is created: the subscription may
// not be live on the server yet when the first is committed (the protocol does not confirm a
// subscribe), and a commit before that is not delivered.
const SHOW_MS = 3_000;
const WAIT_MS = 90_000; // per condition; the whole run is bounded by OVERALL_MS
const OVERALL_MS = 240_000;

function usage(message) {
  console.error(`graphiql.mjs: ${message}\nusage: node graphiql.mjs <base-url> [--token TOKEN] [--total N]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let base;
let token;
let total = 0;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--token') token = args[++i];
  else if (args[i] === '--total') total = Number(args[++i]);
  else if (!base) base = args[i];
  else usage(`unexpected argument ${args[i]}`);
}
if (!base) usage('missing the base URL');
if (token === undefined && args.includes('--token')) usage('--token needs a value');
if (!Number.isInteger(total)) usage('--total needs an integer');
const origin = new URL(base).origin;

const timer = setTimeout(() => {
  console.error(`FAIL graphiql: not done after ${OVERALL_MS / 1000} s`);
  process.exit(1);
}, OVERALL_MS);

const requests = []; // every URL the browser asked for
const foreign = []; // those not on `origin`
const cspViolations = [];
const pageErrors = [];
const sockets = []; // every WebSocket of the page: { url, sent: [frames], received: [frames], closed }

/** Monaco renders spaces as U+00A0; compare text with runs of whitespace as one space. */
const squash = (text) => text.replace(/\s+/g, ' ').trim();

async function editorText(page, selector) {
  return squash(await page.locator(`${selector} .view-lines`).first().innerText());
}

async function waitForText(page, selector, expected, what) {
  const deadline = Date.now() + WAIT_MS;
  let last = '';
  while (Date.now() < deadline) {
    last = await editorText(page, selector).catch(() => '');
    if (last.includes(expected)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}: expected ${JSON.stringify(expected)}, the pane shows ${JSON.stringify(last)}`);
}

/** Clicks the run button and waits for the POST it sends; returns that request. */
async function run(page) {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url() === `${origin}/graphql` && (r.request().postData() ?? '').includes('comms'),
      { timeout: WAIT_MS },
    ),
    page.locator('.graphiql-execute-button').click({ timeout: WAIT_MS }),
  ]);
  return response;
}

/** POSTs `query` to <base>/graphql (with --token, bearer); returns its `data`. */
async function graphql(query, variables) {
  const headers = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${origin}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (res.status !== 200 || body.errors) throw new Error(`POST /graphql answered ${res.status} ${JSON.stringify(body)}`);
  return body.data;
}

async function createComm(subject) {
  await graphql('mutation($in: CommCreateInput!) { createComm(input: $in) { id } }', {
    in: { customerId: 'gq-sub', type: 'NOTE', direction: 'INTERNAL', subject },
  });
}

/** Waits until `predicate()` holds (polled every 50 ms), at most `ms`; false if it never did. */
async function poll(page, ms, predicate) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() >= deadline) return false;
    await page.waitForTimeout(50);
  }
}

/** The graphql-transport-ws messages of a socket's frames, parsed. */
const messages = (frames) =>
  frames.map((f) => {
    try {
      return JSON.parse(f);
    } catch {
      return { unparsed: f };
    }
  });

/**
 * Types SUBSCRIPTION into the query editor and runs it: it must open a WebSocket to this origin's
 * /graphql, show the comms created from here in the result pane, and close when stopped.
 */
async function subscribe(page) {
  const editor = page.locator('.graphiql-query-editor .monaco-editor');
  await editor.click({ timeout: WAIT_MS });
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(SUBSCRIPTION);
  await waitForText(page, '.graphiql-query-editor', squash(SUBSCRIPTION), 'the query editor');
  // Monaco may offer completions after typing; they must not take the run button's click.
  await page.keyboard.press('Escape');

  const before = sockets.length;
  await page.locator('.graphiql-execute-button').click({ timeout: WAIT_MS });
  const wsUrl = `${origin.replace(/^http/, 'ws')}/graphql`;
  const opened = await poll(page, WAIT_MS, () => sockets.length > before);
  if (!opened) {
    const pane = await editorText(page, '.result-window').catch((e) => `(unreadable: ${e.message})`);
    throw new Error(`running the subscription opened no WebSocket; the result pane shows ${JSON.stringify(pane)}`);
  }
  const ws = sockets[before];
  if (ws.url !== wsUrl) throw new Error(`the subscription's WebSocket went to ${ws.url}, not ${wsUrl}`);

  // connection_init, connection_ack, then the subscribe with the editor's document.
  const subscribed = await poll(page, WAIT_MS, () =>
    messages(ws.sent).some((m) => m.type === 'subscribe' && m.payload?.query === SUBSCRIPTION),
  );
  const sent = messages(ws.sent);
  const received = messages(ws.received);
  if (!subscribed) {
    throw new Error(`no subscribe was sent; sent ${JSON.stringify(sent)}, received ${JSON.stringify(received)}, closed ${JSON.stringify(ws.closed)}`);
  }
  const init = sent.find((m) => m.type === 'connection_init');
  if (token !== undefined && init?.payload?.Authorization !== `Bearer ${token}`) {
    throw new Error(`connection_init carried ${JSON.stringify(init?.payload)}, not the headers editor's bearer token`);
  }
  if (!received.some((m) => m.type === 'connection_ack')) throw new Error(`no connection_ack: ${JSON.stringify(received)}`);

  // Comms with distinct subjects until one shows: the first ones may commit before the
  // server has set the subscription up. Each gets SHOW_MS; any of them showing will do.
  const subjects = [];
  const deadline = Date.now() + WAIT_MS;
  let pane = '';
  let shown;
  while (!shown) {
    if (Date.now() >= deadline || ws.closed) {
      throw new Error(
        `none of ${subjects.length} comms showed in the result pane (it shows ${JSON.stringify(pane)}); socket ${ws.closed ? `closed ${JSON.stringify(ws.closed)}` : 'open'}, received ${JSON.stringify(messages(ws.received))}`,
      );
    }
    const subject = `gq-sub ${process.pid} #${subjects.length + 1}`;
    subjects.push(subject);
    await createComm(subject);
    await poll(page, Math.min(SHOW_MS, deadline - Date.now()), async () => {
      pane = await editorText(page, '.result-window').catch(() => '');
      const hit = subjects.find((s) => pane.includes(`"subject": "${s}"`));
      if (hit && pane.includes('"kind": "CREATED"')) shown = hit;
      return shown !== undefined;
    });
  }
  const next = messages(ws.received).find((m) => m.type === 'next' && m.payload?.data?.commChanges?.comm?.subject === shown);
  if (next?.payload?.data?.commChanges?.kind !== 'CREATED') throw new Error(`the socket received no next for ${shown}`);

  // The run button stops it: the client completes the subscription and closes its socket.
  await page.locator('.graphiql-execute-button').click({ timeout: WAIT_MS });
  const closed = await poll(page, WAIT_MS, () => ws.closed !== undefined);
  if (!closed) throw new Error('stopping the subscription did not close its WebSocket');
  if (!messages(ws.sent).some((m) => m.type === 'complete')) throw new Error('stopping the subscription sent no complete');
  return { shown, attempts: subjects.length };
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-graphiql-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    // Requests of the page and of its workers; anything off the origin is recorded and refused.
    context.on('request', (request) => {
      requests.push(request.url());
      if (new URL(request.url()).origin !== origin && !request.url().startsWith('data:')) foreign.push(request.url());
    });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
      if (!foreign.includes(url)) foreign.push(url);
      return route.abort('blockedbyclient');
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('websocket', (socket) => {
      const record = { url: socket.url(), sent: [], received: [], closed: undefined };
      sockets.push(record);
      socket.on('framesent', (f) => record.sent.push(String(f.payload)));
      socket.on('framereceived', (f) => record.received.push(String(f.payload)));
      socket.on('socketerror', (err) => {
        record.closed ??= `error ${err}`;
      });
      socket.on('close', () => {
        record.closed ??= 'closed';
      });
    });
    await page.exposeFunction('__cspViolation', (v) => cspViolations.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__cspViolation(`${e.violatedDirective} ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`),
      );
    });

    const url = `${origin}/graphql#query=${encodeURIComponent(QUERY)}`;
    const answer = await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
    if (answer.status() !== 200) throw new Error(`GET /graphql answered ${answer.status()}`);
    const csp = answer.headers()['content-security-policy'] ?? '';
    if (!csp.includes("default-src 'none'")) throw new Error(`the page's CSP is ${JSON.stringify(csp)}`);

    // The editor rendered, with the preset query in it.
    await page.waitForSelector('.graphiql-query-editor .monaco-editor .view-lines', { timeout: WAIT_MS });
    await waitForText(page, '.graphiql-query-editor', squash(QUERY), 'the query editor');

    if (token !== undefined) {
      // Without credentials the server refuses, and GraphiQL shows its answer.
      const refused = await run(page);
      if (refused.status() !== 401) throw new Error(`without a token the query answered ${refused.status()}, not 401`);
      await waitForText(page, '.result-window', 'UNAUTHENTICATED', 'the result without a token');

      // The token, typed into the headers editor.
      await page.locator('button[data-name="headers"]').click({ timeout: WAIT_MS });
      const headersEditor = page.locator('section.graphiql-editor-tool .graphiql-editor:not(.hidden) .monaco-editor');
      await headersEditor.waitFor({ state: 'visible', timeout: WAIT_MS });
      await headersEditor.click();
      await page.keyboard.press('ControlOrMeta+A');
      const headers = JSON.stringify({ Authorization: `Bearer ${token}` });
      await page.keyboard.insertText(headers);
      await waitForText(page, 'section.graphiql-editor-tool .graphiql-editor:not(.hidden)', squash(headers), 'the headers editor');
    }

    const response = await run(page);
    if (response.status() !== 200) throw new Error(`the query answered ${response.status()}`);
    const sent = (await response.request().allHeaders()).authorization;
    if (token !== undefined && sent !== `Bearer ${token}`) {
      throw new Error(`the query was sent with Authorization ${JSON.stringify(sent)}, not the token typed in the headers editor`);
    }
    const body = await response.json();
    if (body?.data?.comms?.total !== total) throw new Error(`the server answered ${JSON.stringify(body)}`);
    await waitForText(page, '.result-window', squash(`"comms": { "total": ${total} }`), 'the result pane');

    const subscription = await subscribe(page);

    // Monaco's workers were started from this origin.
    const workers = ['editor.worker.js', 'graphql.worker.js', 'json.worker.js'];
    const missing = workers.filter((w) => !requests.some((u) => u.startsWith(`${origin}/graphiql/assets/`) && u.endsWith(`/${w}`)));
    if (missing.length) throw new Error(`workers never loaded: ${missing.join(', ')}`);

    if (foreign.length) throw new Error(`requests left ${origin}: ${foreign.join(', ')}`);
    const foreignSockets = sockets.filter((s) => new URL(s.url).host !== new URL(origin).host);
    if (foreignSockets.length) throw new Error(`WebSockets left ${origin}: ${foreignSockets.map((s) => s.url).join(', ')}`);
    if (cspViolations.length) throw new Error(`Content-Security-Policy violations: ${cspViolations.join('; ')}`);
    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
    console.log(
      `ok graphiql: ${requests.length} requests and ${sockets.length} WebSocket(s), all to ${origin}; editor rendered; query ran${token !== undefined ? ' (401 without a token, 200 with the headers editor\'s bearer token)' : ''}; result shows total ${total}; subscription ran${token !== undefined ? ' (connection_init with the bearer token)' : ''}, showed ${JSON.stringify(subscription.shown)} after ${subscription.attempts} comm(s), closed when stopped`,
    );
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (err) => {
    clearTimeout(timer);
    console.error(`FAIL graphiql: ${err.message}`);
    if (foreign.length) console.error(`  requests off ${origin}: ${foreign.join(', ')}`);
    if (cspViolations.length) console.error(`  CSP violations: ${cspViolations.join('; ')}`);
    if (pageErrors.length) console.error(`  page errors: ${pageErrors.join('; ')}`);
    process.exit(1);
  },
);
