// Apollo Client 4 against a running server, with automatic persisted queries: an ApolloClient
// whose link is PersistedQueryLink (SHA-256 from node:crypto) over HttpLink, with a fetch that
// records every request it sends and every answer it gets.
//
//   1. POST: a query, first run: the hash alone (PERSISTED_QUERY_NOT_FOUND), then text and
//      hash (registration), answered with data; second run: the hash alone, answered with data.
//   2. POST: the createComm mutation (hash alone, then text and hash), checked field by field.
//   3. useGETForHashedQueries: a new query runs as GET with the hash alone (unknown), then as POST
//      with text and hash; again, and the GET with the hash alone hits. The first query, already
//      registered by step 1, hits at once over GET, and sees the mutation's row.
//
//   node tests/node/apollo.mjs http://127.0.0.1:8080/graphql
//
// The server must not have seen these queries yet (a fresh one: the misses are checked).
// Exit code 0 and one summary line `ok apollo: …` on success; 1 with the reason and the
// recorded requests otherwise (2 for a usage error). Run by tests/api/clients.rs.
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const OVERALL_MS = 60_000;

const [url, ...rest] = process.argv.slice(2);
if (!url || rest.length) {
  console.error('usage: node apollo.mjs <graphql-url>');
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error(`FAIL apollo: not done after ${OVERALL_MS / 1000} s`);
  process.exit(1);
}, OVERALL_MS);

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** Every request sent through the clients' fetch: method, URL, parsed body, status, answer. */
const sent = [];

async function recordingFetch(input, init = {}) {
  const method = (init.method ?? 'GET').toUpperCase();
  const requestUrl = new URL(String(input));
  const body = typeof init.body === 'string' ? JSON.parse(init.body) : null;
  const response = await fetch(input, init);
  const answer = await response.clone().text();
  let json = null;
  try {
    json = JSON.parse(answer);
  } catch {
    // recorded as text only
  }
  sent.push({ method, url: requestUrl, body, status: response.status, answer, json });
  return response;
}

/** The GraphQL request of a recorded request: from its JSON body (POST) or its URL (GET). */
function paramsOf(request) {
  if (request.method === 'POST') return request.body ?? {};
  const param = (name) => request.url.searchParams.get(name);
  const json = (name) => (param(name) === null ? undefined : JSON.parse(param(name)));
  return {
    query: param('query') ?? undefined,
    operationName: param('operationName') ?? undefined,
    variables: json('variables'),
    extensions: json('extensions'),
  };
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function describe(request) {
  return `${request.method} ${request.url.pathname}${request.url.search} ${request.body ? JSON.stringify(request.body) : ''} -> ${request.status} ${request.answer}`;
}

/**
 * Runs `operation` and checks the requests it sent: `expected` lists them in order, each as
 * [method, 'hash' (the hash alone) or 'text' (text and hash)]. Returns the operation's result.
 */
async function exchange(what, expected, operation) {
  const first = sent.length;
  const result = await operation();
  const requests = sent.slice(first);
  const shape = (request) => {
    const params = paramsOf(request);
    return [request.method, params.query === undefined ? 'hash' : 'text'];
  };
  check(
    JSON.stringify(requests.map(shape)) === JSON.stringify(expected),
    `${what}: expected the requests ${JSON.stringify(expected)}, sent ${JSON.stringify(requests.map(shape))}:\n  ${requests.map(describe).join('\n  ')}`,
  );
  let hash;
  for (const [i, request] of requests.entries()) {
    const params = paramsOf(request);
    const persisted = params.extensions?.persistedQuery;
    check(persisted?.version === 1 && /^[0-9a-f]{64}$/.test(persisted.sha256Hash ?? ''), `${what}: request ${i} has no APQ extension: ${describe(request)}`);
    hash ??= persisted.sha256Hash;
    check(persisted.sha256Hash === hash, `${what}: request ${i} sent another hash: ${describe(request)}`);
    if (params.query !== undefined) {
      check(sha256(params.query) === hash, `${what}: the hash is not the SHA-256 of the text sent: ${describe(request)}`);
    }
    const last = i === requests.length - 1;
    if (last) {
      check(!request.json?.errors, `${what}: the last request answered errors: ${describe(request)}`);
    } else {
      // Only a miss makes the link retry: the hash alone, answered PERSISTED_QUERY_NOT_FOUND.
      const error = request.json?.errors?.[0];
      check(
        error?.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND' && error?.message === 'PersistedQueryNotFound',
        `${what}: request ${i} was not answered PERSISTED_QUERY_NOT_FOUND: ${describe(request)}`,
      );
    }
  }
  return result;
}

function client(options = {}) {
  return new ApolloClient({
    link: new PersistedQueryLink({ sha256, ...options }).concat(new HttpLink({ uri: url, fetch: recordingFetch })),
    cache: new InMemoryCache(),
    // Every run goes to the server: the point is what is sent.
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
}

const TIMELINE = gql`
  query ApolloTimeline($customerId: String!, $limit: Int!) {
    comms(customerId: $customerId, limit: $limit) {
      total
      entries {
        id
        type
        direction
        subject
        occurredAt
      }
    }
  }
`;

const CREATE = gql`
  mutation ApolloCreateComm($input: CommCreateInput!) {
    createComm(input: $input) {
      id
      customerId
      type
      direction
      subject
      attachments {
        filename
        nextcloudPath
      }
      occurredAt
    }
  }
`;

const ONE = gql`
  query ApolloComm($id: ID!) {
    comm(id: $id) {
      id
      subject
    }
  }
`;

async function main() {
  const customerId = `apollo-${process.pid}`;
  const post = client();

  // 1. A query over POST: miss and registration, then a hit.
  const timeline = () => post.query({ query: TIMELINE, variables: { customerId, limit: 10 } });
  let result = await exchange('the first run of the query', [['POST', 'hash'], ['POST', 'text']], timeline);
  check(result.data?.comms?.total === 0, `the first run answered ${JSON.stringify(result)}`);
  result = await exchange('the second run of the query', [['POST', 'hash']], timeline);
  check(result.data?.comms?.total === 0 && result.data.comms.entries.length === 0, `the second run answered ${JSON.stringify(result)}`);

  // 2. A mutation (always POST).
  const input = {
    customerId,
    type: 'EMAIL',
    direction: 'OUTBOUND',
    subject: 'Quote for order 1042',
    attachments: [{ filename: 'quote.pdf', nextcloudPath: `/crm/${customerId}/quote.pdf` }],
    occurredAt: '2026-11-24T10:00:00+01:00',
  };
  const created = await exchange('the mutation', [['POST', 'hash'], ['POST', 'text']], () =>
    post.mutate({ mutation: CREATE, variables: { input } }),
  );
  const comm = created.data?.createComm;
  check(
    comm &&
      typeof comm.id === 'string' &&
      comm.customerId === customerId &&
      comm.type === 'EMAIL' &&
      comm.direction === 'OUTBOUND' &&
      comm.subject === input.subject &&
      JSON.stringify(comm.attachments.map(({ filename, nextcloudPath }) => ({ filename, nextcloudPath }))) ===
        JSON.stringify(input.attachments) &&
      comm.occurredAt === '2026-11-24T09:00:00.000000Z',
    `createComm answered ${JSON.stringify(created)}`,
  );

  // 3. GET for hashed queries: a new query misses over GET and registers over POST, then hits
  // over GET; the query registered over POST hits over GET at once.
  const get = client({ useGETForHashedQueries: true });
  const one = () => get.query({ query: ONE, variables: { id: comm.id } });
  result = await exchange('the first GET run of a new query', [['GET', 'hash'], ['POST', 'text']], one);
  check(result.data?.comm?.id === comm.id && result.data.comm.subject === input.subject, `the new query answered ${JSON.stringify(result)}`);
  result = await exchange('the second GET run of the new query', [['GET', 'hash']], one);
  check(result.data?.comm?.id === comm.id, `the new query's second run answered ${JSON.stringify(result)}`);
  result = await exchange('the registered query over GET', [['GET', 'hash']], () =>
    get.query({ query: TIMELINE, variables: { customerId, limit: 10 } }),
  );
  const entries = result.data?.comms?.entries ?? [];
  check(
    result.data?.comms?.total === 1 && entries.length === 1 && entries[0].id === comm.id && entries[0].occurredAt === comm.occurredAt,
    `the timeline over GET answered ${JSON.stringify(result)}`,
  );

  const gets = sent.filter((r) => r.method === 'GET').length;
  console.log(
    `ok apollo: ${sent.length} requests (${gets} GET); query: miss, registration, hit over POST; createComm registered and answered; useGETForHashedQueries: miss over GET, registration over POST, hits over GET`,
  );
}

main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (err) => {
    clearTimeout(timer);
    console.error(`FAIL apollo: ${err?.stack ?? err}`);
    if (sent.length) console.error(`  requests sent:\n  ${sent.map(describe).join('\n  ')}`);
    process.exit(1);
  },
);
