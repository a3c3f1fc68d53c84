// Apollo Client 4 paging the timeline and a comms connection the way a CRM frontend does:
// InMemoryCache with `relayStylePagination` type policies and `possibleTypes` for the
// `TimelineItem` union. Page after page is fetched with `after: pageInfo.endCursor` while new
// comms are logged at the top between pages; the cache's merged list must then hold every row
// that existed before the walk exactly once, newest first, the same as one big page asked
// before the walk (minus nothing, plus nothing older). Then backward with `last`/`before`.
//
//   node tests/node/apollo-pages.mjs http://127.0.0.1:8080/graphql <customerId>
//
// The customer must already have rows (the Rust test makes them). Exit code 0 and one line
// `ok apollo-pages: …` on success; 1 with the reason otherwise (2 for a usage error). Run by
// tests/api/clients.rs.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';

const OVERALL_MS = 60_000;
const PAGE = 7;

const [url, customerId, ...rest] = process.argv.slice(2);
if (!url || !customerId || rest.length) {
  console.error('usage: node apollo-pages.mjs <graphql-url> <customerId>');
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error(`FAIL apollo-pages: not done after ${OVERALL_MS / 1000} s`);
  process.exit(1);
}, OVERALL_MS);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const client = new ApolloClient({
  link: new HttpLink({ uri: url }),
  cache: new InMemoryCache({
    possibleTypes: { TimelineItem: ['Comm', 'Media'] },
    typePolicies: {
      Query: {
        fields: {
          timeline: relayStylePagination(['customerId', 'types', 'includeMedia', 'at']),
          commsConnection: relayStylePagination(['filter']),
        },
      },
    },
  }),
});

const TIMELINE = gql`
  query PagedTimeline($customerId: String!, $first: Int, $after: String, $last: Int, $before: String) {
    timeline(customerId: $customerId, first: $first, after: $after, last: $last, before: $before) {
      edges {
        cursor
        at
        node {
          __typename
          ... on Comm {
            id
            subject
            occurredAt
          }
          ... on Media {
            id
            filename
            createdAt
          }
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`;

const COMMS = gql`
  query PagedComms($filter: CommFilter, $first: Int, $after: String) {
    commsConnection(filter: $filter, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          subject
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      totalCount
    }
  }
`;

const CREATE = gql`
  mutation PagedCreate($input: CommCreateInput!) {
    createComm(input: $input) {
      id
    }
  }
`;

const key = (edge) => `${edge.node.__typename}:${edge.node.id}`;

async function main() {
  // The whole timeline in one page, before the walk: what the walk must see.
  const all = await client.query({
    query: TIMELINE,
    variables: { customerId, first: 500 },
    fetchPolicy: 'no-cache',
  });
  const expected = all.data.timeline.edges.map(key);
  check(expected.length > 3 * PAGE, `too few rows to page: ${expected.length}`);
  check(
    expected.some((k) => k.startsWith('Media:')) && expected.some((k) => k.startsWith('Comm:')),
    `the timeline interleaves comms and media: ${expected}`,
  );

  // Forward, page by page, into the cache; a new comm at the top before every page.
  let after = null;
  let pages = 0;
  let added = 0;
  for (;;) {
    const page = await client.query({
      query: TIMELINE,
      variables: { customerId, first: PAGE, after },
      fetchPolicy: 'network-only',
    });
    pages += 1;
    // The cache's view of all pages merged so far (relayStylePagination's read): its end is
    // this page's end, its start the first page's.
    const info = page.data.timeline.pageInfo;
    check(info.hasPreviousPage === false, `page ${pages}: the merged list has rows before it`);
    await client.mutate({
      mutation: CREATE,
      variables: {
        input: {
          customerId,
          type: 'WHATSAPP',
          direction: 'INBOUND',
          subject: `arrived during the walk ${added}`,
          // At the top of the timeline: newer than everything the walk is yet to see.
          occurredAt: new Date(Date.UTC(2099, 0, 1, 0, 0, added)).toISOString(),
        },
      },
    });
    added += 1;
    if (!info.hasNextPage) break;
    after = info.endCursor;
    check(pages < 100, 'the walk does not end');
  }
  // What the cache merged from all pages (relayStylePagination appends after `after`).
  const merged = client.readQuery({ query: TIMELINE, variables: { customerId } });
  const walked = merged.timeline.edges.map(key);
  check(
    JSON.stringify(walked) === JSON.stringify(expected),
    `the merged pages differ from the one big page:\n  walked   ${walked}\n  expected ${expected}`,
  );
  check(merged.timeline.pageInfo.hasNextPage === false, 'the merged page info says there is more');

  // Backward from the end with last/before: the newest rows now include the ones added.
  const newest = await client.query({
    query: TIMELINE,
    variables: { customerId, last: PAGE, before: null },
    fetchPolicy: 'no-cache',
  });
  const oldestPage = newest.data.timeline.edges.map(key);
  check(
    JSON.stringify(oldestPage) === JSON.stringify(expected.slice(-PAGE)),
    `last: ${PAGE} is not the oldest page: ${oldestPage} vs ${expected.slice(-PAGE)}`,
  );

  // A comms connection with a filter, through the same kind of cache policy.
  const filter = { customerId, types: ['EMAIL', 'WHATSAPP'] };
  let total = null;
  after = null;
  for (let i = 0; i < 100; i += 1) {
    const page = await client.query({
      query: COMMS,
      variables: { filter, first: PAGE, after },
      fetchPolicy: 'network-only',
    });
    total = page.data.commsConnection.totalCount;
    if (!page.data.commsConnection.pageInfo.hasNextPage) break;
    after = page.data.commsConnection.pageInfo.endCursor;
  }
  const comms = client.readQuery({ query: COMMS, variables: { filter } }).commsConnection.edges;
  const ids = comms.map((edge) => edge.node.id);
  check(new Set(ids).size === ids.length, `a comm came twice: ${ids}`);
  check(ids.length === total, `the walk saw ${ids.length} comms, totalCount says ${total}`);

  console.log(
    `ok apollo-pages: ${pages} timeline pages of ${PAGE} merged into ${walked.length} rows with ${added} added meanwhile; ${ids.length} filtered comms`,
  );
}

main()
  .then(() => {
    clearTimeout(timer);
    process.exit(0);
  })
  .catch((error) => {
    console.error(`FAIL apollo-pages: ${error.stack ?? error}`);
    process.exit(1);
  });
