// The GraphiQL page in a real browser: Debian's Chromium (headless, through playwright-core)
// opens <base>/graphql with a query preset in the URL fragment, waits for the editor, runs the
// query and waits for its result in the result pane. Every request the browser makes must go to
// <base>'s origin. With --token, the server has auth on: running without credentials must
// answer UNAUTHENTICATED, then the token is typed into GraphiQL's headers editor and the query
// must succeed, its request carrying the bearer token.
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

    // Monaco's workers were started from this origin.
    const workers = ['editor.worker.js', 'graphql.worker.js', 'json.worker.js'];
    const missing = workers.filter((w) => !requests.some((u) => u.startsWith(`${origin}/graphiql/assets/`) && u.endsWith(`/${w}`)));
    if (missing.length) throw new Error(`workers never loaded: ${missing.join(', ')}`);

    if (foreign.length) throw new Error(`requests left ${origin}: ${foreign.join(', ')}`);
    if (cspViolations.length) throw new Error(`Content-Security-Policy violations: ${cspViolations.join('; ')}`);
    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
    console.log(
      `ok graphiql: ${requests.length} requests, all to ${origin}; editor rendered; query ran${token !== undefined ? ' (401 without a token, 200 with the headers editor\'s bearer token)' : ''}; result shows total ${total}`,
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
