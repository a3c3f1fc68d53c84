// The GraphQL over HTTP audit of graphql-http (the spec's reference implementation's
// conformance checks) against a running server: every audit of `serverAudits` is run and
// printed, one line each (`ok`, or the failure's status, id, name, reason and the server's
// answer). MUST and SHOULD audits must pass; MAY audits may fail (they are printed as notices).
//
//   node tests/node/audit.mjs http://127.0.0.1:8080/graphql
//
// Exit code 0 with a summary line `ok audit: …` when every MUST and SHOULD audit passed; 1
// with the failures otherwise (2 for a usage error). Run by tests/api/clients.rs.
import { serverAudits } from 'graphql-http';

const OVERALL_MS = 120_000;

const [url, ...rest] = process.argv.slice(2);
if (!url || rest.length) {
  console.error('usage: node audit.mjs <graphql-url>');
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error(`FAIL audit: not done after ${OVERALL_MS / 1000} s`);
  process.exit(1);
}, OVERALL_MS);

/** What the server answered, for a failed audit: status, content type and body. */
async function answer(response) {
  if (!response) return '(no response)';
  let body;
  try {
    body = await response.clone().text();
  } catch {
    body = '(body already read)';
  }
  if (body.length > 500) body = `${body.slice(0, 500)}…`;
  return `${response.status} ${response.headers.get('content-type') ?? '(no content-type)'} ${JSON.stringify(body)}`;
}

async function main() {
  const counts = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] }; // [passed, total]
  const failures = [];
  for (const audit of serverAudits({ url })) {
    const level = audit.name.split(' ')[0];
    let result;
    try {
      result = await audit.fn();
    } catch (err) {
      // graphql-http throws for anything that is not an assertion failure (e.g. a network
      // error): count it as a failure of this audit.
      result = { id: audit.id, name: audit.name, status: 'error', reason: `threw: ${err?.stack ?? err}` };
    }
    counts[level][1] += 1;
    if (result.status === 'ok') {
      counts[level][0] += 1;
      console.log(`ok     ${result.id} ${result.name}`);
      continue;
    }
    const line = `${result.status.padEnd(6)} ${result.id} ${result.name}: ${result.reason}; the server answered ${await answer(result.response)}`;
    console.log(line);
    if (level === 'MUST' || level === 'SHOULD') failures.push(line);
  }
  const summary = Object.entries(counts)
    .map(([level, [passed, total]]) => `${level} ${passed}/${total}`)
    .join(', ');
  if (failures.length) {
    console.error(`FAIL audit: ${summary} passed; MUST and SHOULD failures:\n${failures.join('\n')}`);
    return false;
  }
  console.log(`ok audit: ${summary} passed`);
  return true;
}

main().then(
  (passed) => {
    clearTimeout(timer);
    process.exit(passed ? 0 : 1);
  },
  (err) => {
    clearTimeout(timer);
    console.error(`FAIL audit: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
