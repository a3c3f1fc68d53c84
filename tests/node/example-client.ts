// How a frontend uses the client that codegen.ts generates from the repository's example
// operations (examples/operations/ → target/codegen/gql/): variables and results typed from
// the schema, fragments unmasked where they are shown, and documents sent by their id, the
// only way a server with --trusted-documents runs them. Type-checked with
// `tsc --strict --noEmit` (tsconfig.json; by tests/api/clients.rs), not run: each
// `@ts-expect-error` below is a mistake the generated types must catch.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { useFragment as unmask, type FragmentType } from '../../target/codegen/gql';
import {
  CommDetailDocument,
  CreateCommDocument,
  CreateMediaDocument,
  CustomerTimelineDocument,
  DeleteCommDocument,
  OrderMediaDocument,
  TimelineEntryFragmentDoc,
  UpdateCommDocument,
  type CommCreateInput,
  type CommType,
  type CustomerTimelineQueryVariables,
  type MediaCreateInput,
  type OrderMediaQuery,
  type TimelineEntryFragment,
  type UpdateCommMutationVariables,
} from '../../target/codegen/gql/graphql';

/** A GraphQL error as the server sends it (`extensions.code`: NOT_FOUND, BAD_USER_INPUT, …). */
interface ServerError {
  message: string;
  extensions?: { code?: string; field?: string };
}

export class GraphQLRequestError extends Error {
  constructor(readonly errors: readonly ServerError[]) {
    super(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
  }
}

/** The id that persisted-documents.json lists a generated document under. */
export function documentId(document: TypedDocumentNode<unknown, never>): string {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof hash !== 'string') throw new Error('the document was generated without persistedDocuments');
  return hash;
}

/** A minimal client: POSTs `{ documentId, variables }` and answers the typed `data`. */
export class CrmClient {
  constructor(
    private readonly url: string,
    private readonly token?: string,
  ) {}

  async execute<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables): Promise<TResult> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json;q=0.9',
    };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(this.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ documentId: documentId(document as TypedDocumentNode<unknown, never>), variables }),
    });
    const body = (await response.json()) as { data?: TResult | null; errors?: ServerError[] };
    if (body.errors?.length) throw new GraphQLRequestError(body.errors);
    if (body.data == null) throw new Error(`the server answered ${response.status} without data`);
    return body.data;
  }
}

/** One row of the timeline view. */
export interface TimelineRow {
  id: string;
  when: Date;
  channel: CommType;
  title: string;
  files: string[];
}

function row(entry: TimelineEntryFragment): TimelineRow {
  return {
    id: entry.id,
    // DateTime is a string (RFC 3339, UTC) in the generated types.
    when: new Date(entry.occurredAt),
    channel: entry.type,
    title: entry.subject ?? `${entry.direction.toLowerCase()} ${entry.type.toLowerCase()}`,
    files: entry.attachments.map((a) => a.filename),
  };
}

/** A page of a customer's timeline, and the number of pages. */
export async function timelinePage(client: CrmClient, customerId: string, page: number, channel?: CommType) {
  const variables: CustomerTimelineQueryVariables = { customerId, limit: 20, offset: page * 20 };
  if (channel !== undefined) variables.type = channel;
  const { comms } = await client.execute(CustomerTimelineDocument, variables);
  const entries: readonly FragmentType<typeof TimelineEntryFragmentDoc>[] = comms.entries;
  return { rows: unmask(TimelineEntryFragmentDoc, entries).map(row), pages: Math.ceil(comms.total / 20) };
}

/** The detail pane of one communication, or null if it is gone. */
export async function detail(client: CrmClient, id: string) {
  const { comm } = await client.execute(CommDetailDocument, { id });
  if (comm === null) return null;
  const entry = unmask(TimelineEntryFragmentDoc, comm);
  return { ...row(entry), customerId: comm.customerId, body: comm.body ?? '', loggedAt: new Date(comm.createdAt) };
}

/** Logs a call the user just had with a customer. */
export async function logCall(client: CrmClient, customerId: string, notes: string): Promise<TimelineRow> {
  const input: CommCreateInput = { customerId, type: 'CALL', direction: 'OUTBOUND', body: notes };
  const { createComm } = await client.execute(CreateCommDocument, { input });
  return row(unmask(TimelineEntryFragmentDoc, createComm));
}

/** Renames a communication, or clears its subject (null). */
export async function rename(client: CrmClient, id: string, subject: string | null) {
  const variables: UpdateCommMutationVariables = { id, input: { subject } };
  const { updateComm } = await client.execute(UpdateCommDocument, variables);
  return { ...row(unmask(TimelineEntryFragmentDoc, updateComm)), body: updateComm.body };
}

export async function remove(client: CrmClient, id: string): Promise<string> {
  return (await client.execute(DeleteCommDocument, { id })).deleteComm;
}

/** The photos of an order, for its gallery. */
export async function orderPhotos(client: CrmClient, orderId: string): Promise<OrderMediaQuery['media']['items']> {
  const { media } = await client.execute(OrderMediaDocument, { orderId });
  return media.items.filter((item) => item.mimeType?.startsWith('image/') ?? false);
}

/** Records a delivery note uploaded to the order's Nextcloud folder. */
export async function recordDeliveryNote(client: CrmClient, orderId: string, filename: string) {
  const input: MediaCreateInput = {
    orderId,
    filename,
    nextcloudPath: `/orders/${orderId}/${filename}`,
    mimeType: 'application/pdf',
    direction: 'SENT',
    tags: ['delivery-note'],
  };
  const { createMedia } = await client.execute(CreateMediaDocument, { input });
  return { id: createMedia.id, tags: createMedia.tags, recordedAt: new Date(createMedia.createdAt) };
}

/**
 * Apollo Client with the same documents: PersistedQueryLink sends each document's id instead of
 * its text (the server knows them all, so it never asks for the text).
 */
export function apollo(url: string) {
  return new ApolloClient({
    link: new PersistedQueryLink({
      generateHash: (document) => documentId(document as TypedDocumentNode<unknown, never>),
    }).concat(new HttpLink({ uri: url })),
    cache: new InMemoryCache(),
  });
}

export async function apolloTimeline(client: ReturnType<typeof apollo>, customerId: string): Promise<number | undefined> {
  const result = await client.query({ query: CustomerTimelineDocument, variables: { customerId } });
  return result.data?.comms.total;
}

/** Mistakes the generated types catch. */
export function mistakes(client: CrmClient, entry: TimelineEntryFragment) {
  // @ts-expect-error FAX is no CommType
  const fax: CommType = 'FAX';
  // @ts-expect-error a communication needs a direction
  const undirected: CommCreateInput = { customerId: 'c-1', type: 'NOTE' };
  // @ts-expect-error customerId is required
  const noCustomer: CustomerTimelineQueryVariables = { limit: 20 };
  // @ts-expect-error limit is an Int
  const textLimit: CustomerTimelineQueryVariables = { customerId: 'c-1', limit: '20' };
  // @ts-expect-error the timeline entry does not select the body
  const body: string | null = entry.body;
  // @ts-expect-error DateTime is a string, not a number
  const epoch: number = entry.occurredAt;
  // @ts-expect-error DeleteComm takes an id, not an input
  void client.execute(DeleteCommDocument, { input: { id: 'x' } });
  // @ts-expect-error the timeline's entries are masked: unmask them with their fragment first
  const subject = (async () => (await client.execute(CustomerTimelineDocument, { customerId: 'c-1' })).comms.entries[0]?.subject)();
  return [fax, undirected, noCustomer, textLimit, body, epoch, subject];
}
