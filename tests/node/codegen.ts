// GraphQL Code Generator for the repository's example operations (examples/operations/), as a
// frontend would use it: the client preset, typed from the committed schema (schema.graphql,
// not a running server), writing typed documents and a persisted-documents manifest for the
// server's --trusted-documents. The output is a build product under target/ (never committed).
//
//   npx --prefix tests/node graphql-codegen --config tests/node/codegen.ts
//
// Paths are resolved from the repository's root, so it runs from any directory. Run by
// tests/api/clients.rs; README.md ("Generating a client") shows the same config.
import type { CodegenConfig } from '@graphql-codegen/cli';
import { preset as client } from '@graphql-codegen/client-preset';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

const config: CodegenConfig = {
  schema: `${root}schema.graphql`,
  documents: [`${root}examples/operations/**/*.graphql`],
  ignoreNoDocuments: false,
  generates: {
    [`${root}target/codegen/gql/`]: {
      // `preset: 'client'` names the same preset, but is looked up from the working directory.
      preset: client,
      presetConfig: {
        // persisted-documents.json: { "<id>": "<document>" } for --trusted-documents. The id
        // is `sha256:` and the SHA-256 (hex) of the normalised document (the preset's default
        // hashAlgorithm), also embedded in each generated document as `__meta__.hash`.
        persistedDocuments: true,
      },
      config: {
        scalars: { DateTime: 'string' },
        enumsAsTypes: true,
      },
    },
  },
};

export default config;
