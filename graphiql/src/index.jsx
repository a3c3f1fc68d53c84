// The GraphiQL page crm-comms serves at `GET /graphql` (see src/http/graphiql.rs).
//
// Everything it needs is bundled by build.mjs into assets/graphiql/ and served by the binary
// from its own origin: no request leaves it. Operations go to this origin's `/graphql` (over
// HTTP, subscriptions over a WebSocket), with the headers of GraphiQL's headers editor, so
// `{"Authorization": "Bearer <token>"}` there authenticates. Headers are not persisted
// (GraphiQL's default).
//
// A query (and its variables) can be preset in the URL fragment, which never reaches the
// server (`?query=` would make the server execute it instead of serving this page):
//
//   /graphql#query=%7B%20__typename%20%7D&variables=%7B%7D
//
// The fragment follows the editors as they change, so the address can be shared. Headers are
// never put in it.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { parse } from 'graphql';
import 'graphiql/style.css';
import './page.css';
import { createRoot } from 'react-dom/client';

// The workers (and the stylesheet's fonts) sit beside this script; resolve them from its own
// URL so a versioned asset path keeps working.
const assetBase = new URL('.', document.currentScript.src);

globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const name =
      label === 'graphql' ? 'graphql.worker.js' : label === 'json' ? 'json.worker.js' : 'editor.worker.js';
    return new Worker(new URL(name, assetBase), { name: label });
  },
};

function readFragment() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  return {
    query: params.get('query') ?? undefined,
    variables: params.get('variables') ?? undefined,
  };
}

const preset = readFragment();
const current = { ...preset };

function writeFragment() {
  const params = new URLSearchParams();
  if (current.query) params.set('query', current.query);
  if (current.variables) params.set('variables', current.variables);
  const hash = params.toString();
  const url = window.location.pathname + window.location.search + (hash ? `#${hash}` : '');
  window.history.replaceState(null, '', url);
}

// The page is served by `GET /graphql`; queries and mutations are POSTed to the same path, and
// subscriptions run over a WebSocket to it (`ws:`/`wss:`, graphql-transport-ws, graphql-ws's
// client): one connection per subscription, opened when it starts and closed when it stops.
// The headers editor's object is the socket's `connection_init` payload, so its
// `{"Authorization": "Bearer <token>"}` authenticates subscriptions as it does requests.
const url = new URL(window.location.pathname, window.location.origin);
const subscriptionUrl = new URL(url);
subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
const toolkitFetcher = createGraphiQLFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });

// The toolkit picks the WebSocket by the operation's type in GraphiQL's parsed document, which
// GraphiQL updates 100 ms after the last edit, while the text it sends is the editor's current
// one: run sooner (a click or Ctrl+Enter right after typing) and a new subscription would be
// POSTed as the previous document's type. Parse the text that is sent instead.
function fetcher(params, options) {
  let documentAST = options?.documentAST;
  try {
    documentAST = parse(params.query);
  } catch {
    // Not valid GraphQL: the server answers with the syntax error.
  }
  return toolkitFetcher(params, { ...options, documentAST });
}

const root = createRoot(document.getElementById('graphiql'));
root.render(
  <GraphiQL
    fetcher={fetcher}
    initialQuery={preset.query}
    initialVariables={preset.variables}
    onEditQuery={(query) => {
      current.query = query;
      writeFragment();
    }}
    onEditVariables={(variables) => {
      current.variables = variables;
      writeFragment();
    }}
  />,
);
