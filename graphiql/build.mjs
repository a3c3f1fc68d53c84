// Builds the GraphiQL bundle that crm-comms embeds (src/http/graphiql.rs) into
// ../assets/graphiql/: production, minified, no source maps, no external URL.
//
//   graphiql.js        the page's script (React, GraphiQL, Monaco, the fetcher), one IIFE
//   graphiql.css       GraphiQL's and Monaco's styles (fonts inlined as data: URLs)
//   editor.worker.js   Monaco's editor worker
//   json.worker.js     Monaco's JSON worker (variables and headers editors)
//   graphql.worker.js  monaco-graphql's worker (completion, validation)
//   LICENSES.txt       the licence (and third-party notices) of every package bundled above
//
// Run through ./build.sh, which installs the exact versions of package-lock.json first.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '..', 'assets', 'graphiql');

// Only the files below belong in the output directory; the server lists exactly these.
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

// Subscriptions: the fetcher (@graphiql/toolkit) imports `graphql-ws` for its client. That
// import would resolve to the package's whole entry (client and server); the browser entry,
// `graphql-ws/client`, is all the page needs.
const graphqlWsClient = {
  name: 'graphql-ws-client',
  setup(build) {
    build.onResolve({ filter: /^graphql-ws$/ }, ({ kind, resolveDir, importer }) =>
      build.resolve('graphql-ws/client', { kind, resolveDir, importer }),
    );
  },
};

// graphiql/style.css carries Monaco's stylesheet (of the Monaco version @graphiql/react pins);
// Monaco's modules import the same rules again, one file each: those imports are dropped.
const monacoVersion = JSON.parse(
  fs.readFileSync(path.join(here, 'node_modules/monaco-editor/package.json'), 'utf8'),
).version;
const graphiqlCss = fs.readFileSync(path.join(here, 'node_modules/graphiql/dist/style.css'), 'utf8');
if (!graphiqlCss.includes(`Version: ${monacoVersion}(`)) {
  throw new Error(`graphiql/style.css does not carry Monaco ${monacoVersion}'s stylesheet`);
}
const noMonacoCss = {
  name: 'no-monaco-css',
  setup(build) {
    build.onResolve({ filter: /\.css$/ }, (args) =>
      args.importer.includes('/node_modules/monaco-editor/')
        ? { path: args.path, namespace: 'monaco-css' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'monaco-css' }, () => ({ contents: '', loader: 'css' }));
  },
};

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
  platform: 'browser',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  sourcemap: false,
  charset: 'utf8',
  logLevel: 'warning',
  metafile: true,
  banner: {
    js: '/*! Bundled packages and their licences: LICENSES.txt beside this file. */',
    css: '/*! Bundled packages and their licences: LICENSES.txt beside this file. */',
  },
};

const builds = [
  {
    entryPoints: { graphiql: 'src/index.jsx' },
    jsx: 'automatic',
    plugins: [graphqlWsClient, noMonacoCss],
    loader: { '.ttf': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  },
  { entryPoints: { 'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js' } },
  { entryPoints: { 'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js' } },
  { entryPoints: { 'graphql.worker': 'monaco-graphql/esm/graphql.worker.js' } },
];

const inputs = new Set();
for (const options of builds) {
  const result = await esbuild.build({ ...common, ...options, outdir: out });
  for (const file of Object.keys(result.metafile.inputs)) inputs.add(file);
}

// The package of each bundled input file: the innermost node_modules/<name> or
// node_modules/@scope/<name> that holds a package.json.
const packages = new Map();
for (const input of inputs) {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) continue; // this directory's own sources
  const nameLength = parts[at + 1].startsWith('@') ? 2 : 1;
  const dir = path.join(here, ...parts.slice(0, at + 1 + nameLength));
  if (!packages.has(dir)) packages.set(dir, JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')));
}

// Licences, and the notices of third-party code a package bundles itself (Monaco, Prettier).
const licenceFile = (dir) =>
  fs
    .readdirSync(dir)
    .filter((f) => /^(licen[cs]e|copying|notice|third-?party-?notices|copyrightnotice)(\.|-|$)/i.test(f))
    .sort()
    .map((f) => path.join(dir, f));

// Packages published without a licence file (all MIT): the licence file of a package from the
// same repository and copyright holders, which is installed too.
const licenceOf = {
  '@graphiql/plugin-doc-explorer': 'graphiql', // github.com/graphql/graphiql
  '@graphiql/plugin-history': 'graphiql', // github.com/graphql/graphiql
  'react-compiler-runtime': 'react', // github.com/facebook/react
  'react-remove-scroll-bar': 'react-remove-scroll', // Anton Korzunov's, same licence
};

const sections = [...packages.entries()]
  .sort(([, a], [, b]) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  .map(([dir, pkg]) => {
    let files = licenceFile(dir);
    let note = [];
    if (files.length === 0 && licenceOf[pkg.name]) {
      files = licenceFile(path.join(here, 'node_modules', licenceOf[pkg.name]));
      note = [`(the package has no licence file; this is the ${pkg.license} licence of ${licenceOf[pkg.name]}, from the same authors)`, ''];
    }
    if (files.length === 0) {
      throw new Error(`${pkg.name}@${pkg.version} ships no licence file: add it to licenceOf in build.mjs`);
    }
    const texts = files.map((f) => fs.readFileSync(f, 'utf8').trim());
    return [`${pkg.name}@${pkg.version} (${pkg.license})`, '', ...note, texts.join('\n\n')].join('\n');
  });
const rule = `\n\n${'='.repeat(78)}\n\n`;
fs.writeFileSync(
  path.join(out, 'LICENSES.txt'),
  `The GraphiQL page of crm-comms bundles these ${packages.size} packages (built by graphiql/build.sh).${rule}${sections.join(rule)}\n`,
);

const sizes = fs
  .readdirSync(out)
  .sort()
  .map((f) => `${f} ${fs.statSync(path.join(out, f)).size}`);
console.log(`assets/graphiql/: ${packages.size} packages\n${sizes.join('\n')}`);
