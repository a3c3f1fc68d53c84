//! The `Comm` type and everything GraphQL does with communications: its enums and inputs, its
//! queries (`comms`, `comm`) and mutations (`createComm`, `updateComm`, `deleteComm`).

use super::connection::{PageInfo, TimeRange, converted, window};
use super::guard::{WriteGuard, actor};
use super::json::write_str;
use super::rows::RowVec;
use super::rows::{Child, EnumNames, Fragments, RowList, RowObject, write_optional};
use super::scalars::DateTime;
use crate::error::ServiceError;
use crate::model::{self, CommColumns, CommFilter, CommPatch, Feed, Key, Page, Want, time};
use crate::service::Service;
use async_graphql::parser::types::SelectionSet;
use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, ServerResult, SimpleObject,
};
use entity::comm;

/// Channel of a communication.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::CommType")]
pub enum CommType {
    /// An email.
    Email,
    /// A WhatsApp message.
    Whatsapp,
    /// A phone call.
    Call,
    /// A text message (SMS).
    Sms,
    /// A note written by the business, e.g. about the customer or an order.
    Note,
    /// A meeting in person.
    InPerson,
}

/// Direction of a communication relative to the business.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::CommDirection")]
pub enum CommDirection {
    /// From the customer to the business.
    Inbound,
    /// From the business to the customer.
    Outbound,
    /// Within the business (e.g. a note).
    Internal,
}

/// A file attached to a communication; the file itself lives in Nextcloud.
#[derive(SimpleObject)]
pub struct CommAttachment {
    /// Name of the file, e.g. `quote.pdf`.
    pub filename: String,
    /// Path of the file in Nextcloud.
    pub nextcloud_path: String,
}

/// A communication with a customer: an email, message, call, meeting or note.
pub struct Comm(pub comm::Model);

/// A communication with a customer: an email, message, call, meeting or note.
#[Object]
impl Comm {
    /// Identifier of the communication (a UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The customer this communication is with.
    async fn customer_id(&self) -> &str {
        &self.0.customer_id
    }
    /// Channel of the communication.
    #[graphql(name = "type")]
    async fn comm_type(&self) -> CommType {
        self.0.comm_type.into()
    }
    /// Whether it came from the customer, went to the customer, or stayed within the business.
    async fn direction(&self) -> CommDirection {
        self.0.direction.into()
    }
    /// Subject line or short summary.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// Text of the message, or notes of the call or meeting.
    async fn body(&self) -> Option<&str> {
        self.0.body.as_deref()
    }
    /// Files attached to the communication, in the order they were given.
    async fn attachments(&self) -> Vec<CommAttachment> {
        self.0
            .attachments
            .iter()
            .flat_map(|list| &list.0)
            .map(|a| CommAttachment {
                filename: a.filename.clone(),
                nextcloud_path: a.nextcloud_path.clone(),
            })
            .collect()
    }
    /// Identifier of the message in its origin system (e.g. an email Message-ID).
    async fn ext_message_id(&self) -> Option<&str> {
        self.0.ext_message_id.as_deref()
    }
    /// Who logged it.
    async fn logged_by(&self) -> Option<&str> {
        self.0.logged_by.as_deref()
    }
    /// When the communication took place.
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.occurred_at)
    }
    /// When it was logged.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

static COMM_TYPES: EnumNames<CommType> = EnumNames::new();
static COMM_DIRECTIONS: EnumNames<CommDirection> = EnumNames::new();

/// The fields of `Comm`, numbered for [`RowObject`] in this order.
const COMM_FIELDS: [&str; 11] = [
    "id",
    "customerId",
    "type",
    "direction",
    "subject",
    "body",
    "attachments",
    "extMessageId",
    "loggedBy",
    "occurredAt",
    "createdAt",
];

/// The same fields as the `#[Object]` impl above, for lists (see [`super::rows`]).
impl RowObject for Comm {
    const TYPE_NAME: &'static str = "Comm";
    const MEMBER_OF: &'static [&'static str] = &["TimelineItem"];

    fn field_index(name: &str) -> Option<usize> {
        COMM_FIELDS.iter().position(|field| *field == name)
    }

    fn child_plan(
        index: usize,
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Option<Child>> {
        match COMM_FIELDS[index] {
            "attachments" => Child::object::<entity::Attachment>(selections, fragments),
            _ => Ok(None),
        }
    }

    fn write_field(&self, index: usize, child: Option<&Child>, out: &mut Vec<u8>) {
        let row = &self.0;
        match index {
            0 => write_str(out, &row.id),
            1 => write_str(out, &row.customer_id),
            2 => COMM_TYPES.write(row.comm_type.into(), out),
            3 => COMM_DIRECTIONS.write(row.direction.into(), out),
            4 => write_optional(row.subject.as_deref(), out),
            5 => write_optional(row.body.as_deref(), out),
            6 => match child {
                Some(plan) => plan
                    .plan()
                    .write_list(row.attachments.iter().flat_map(|a| &a.0), out),
                None => out.extend_from_slice(b"[]"),
            },
            7 => write_optional(row.ext_message_id.as_deref(), out),
            8 => write_optional(row.logged_by.as_deref(), out),
            9 => time::write_output_json(row.occurred_at, out),
            10 => time::write_output_json(row.created_at, out),
            _ => unreachable!("field_index only gives indexes of COMM_FIELDS"),
        }
    }
}

impl RowObject for entity::Attachment {
    const TYPE_NAME: &'static str = "CommAttachment";

    fn field_index(name: &str) -> Option<usize> {
        ["filename", "nextcloudPath"]
            .iter()
            .position(|field| *field == name)
    }

    fn write_field(&self, index: usize, _: Option<&Child>, out: &mut Vec<u8>) {
        match index {
            0 => write_str(out, &self.filename),
            1 => write_str(out, &self.nextcloud_path),
            _ => unreachable!("field_index only gives indexes of its two fields"),
        }
    }
}

/// A page of a customer's communications, newest first.
pub struct CommList {
    pub entries: Vec<Comm>,
    pub total: Option<u64>,
}

/// A page of a customer's communications, newest first, with the number of all matches.
#[Object]
impl CommList {
    /// The communications of this page.
    async fn entries(&self) -> RowList<'_, Comm> {
        RowList(&self.entries)
    }
    /// Number of all matching communications, not just this page.
    async fn total(&self) -> i64 {
        self.total.unwrap_or_default() as i64
    }
}

/// An edge of a [`CommConnection`]: a communication and its cursor.
pub struct CommEdge<'a>(pub &'a Comm);

/// A communication and its cursor.
#[Object]
impl CommEdge<'_> {
    /// Opaque position of this communication, for `after` and `before`.
    async fn cursor(&self) -> String {
        Key::of_comm(&self.0.0).cursor(Feed::Comms)
    }
    /// The communication.
    async fn node(&self) -> &Comm {
        self.0
    }
}

impl RowObject for CommEdge<'_> {
    const TYPE_NAME: &'static str = "CommEdge";

    fn field_index(name: &str) -> Option<usize> {
        ["cursor", "node"].iter().position(|field| *field == name)
    }

    fn child_plan(
        index: usize,
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Option<Child>> {
        match index {
            1 => Child::object::<Comm>(selections, fragments),
            _ => Ok(None),
        }
    }

    fn write_field(&self, index: usize, child: Option<&Child>, out: &mut Vec<u8>) {
        match (index, child) {
            (0, _) => write_str(out, &Key::of_comm(&self.0.0).cursor(Feed::Comms)),
            (_, Some(node)) => node.plan().write(self.0, out),
            (_, None) => out.extend_from_slice(b"null"),
        }
    }
}

/// A page of communications in a cursor connection (Relay's connection spec), newest first.
pub struct CommConnection {
    nodes: Vec<Comm>,
    page_info: PageInfo,
    total: Option<u64>,
}

/// A page of communications, newest first by `occurredAt` then `id`, with cursors.
#[Object]
impl CommConnection {
    /// The communications of this page with their cursors.
    async fn edges(&self) -> RowVec<CommEdge<'_>> {
        RowVec(self.nodes.iter().map(CommEdge).collect())
    }
    /// The communications of this page (the edges' nodes).
    async fn nodes(&self) -> RowList<'_, Comm> {
        RowList(&self.nodes)
    }
    /// Where this page sits in the whole list.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// Number of all communications matching the filter, whatever the cursors; counted only
    /// when selected.
    async fn total_count(&self) -> i64 {
        self.total.unwrap_or_default() as i64
    }
}

/// Which communications a connection lists; every given condition must hold. Without
/// `customerId` it lists across customers (an inbox view).
#[derive(InputObject, Default)]
#[graphql(name = "CommFilter")]
pub struct CommFilterInput {
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// Only these channels (not empty).
    pub types: Option<Vec<CommType>>,
    /// Only these directions (not empty).
    pub directions: Option<Vec<CommDirection>>,
    /// Only those that took place in this range.
    pub occurred_at: Option<TimeRange>,
    /// `true`: only those with attachments; `false`: only those without.
    pub has_attachments: Option<bool>,
    /// Only those logged by exactly this name.
    pub logged_by: Option<String>,
    /// Only the one(s) with exactly this origin message id.
    pub ext_message_id: Option<String>,
    /// Words to find in subject and body: each word matches a whole word or a word prefix,
    /// ignoring case and accents; all must match; `"quoted words"` must occur together, in
    /// order. Results keep the connection's order.
    pub search: Option<String>,
}

impl From<CommFilterInput> for CommFilter {
    fn from(input: CommFilterInput) -> Self {
        Self {
            customer_id: input.customer_id,
            types: converted(input.types),
            directions: converted(input.directions),
            occurred_at: input.occurred_at.into(),
            has_attachments: input.has_attachments,
            logged_by: input.logged_by,
            ext_message_id: input.ext_message_id,
            search: input.search,
        }
    }
}

/// Which of a comm's large columns a selection reads, through any of `paths` (each the path
/// of a `Comm` selection).
pub fn columns_of(ctx: &Context<'_>, paths: &[&[&str]]) -> CommColumns {
    let wants = |name: &str| {
        paths.iter().any(|path| {
            path.iter()
                .fold(ctx.look_ahead(), |at, step| at.field(step))
                .field(name)
                .exists()
        })
    };
    CommColumns {
        body: wants("body"),
        attachments: wants("attachments"),
    }
}

/// A file to attach to a communication.
#[derive(InputObject)]
pub struct CommAttachmentInput {
    /// Name of the file, e.g. `quote.pdf`: not empty, at most 1,000 characters.
    pub filename: String,
    /// Path of the file in Nextcloud: no `..` segments, backslashes or control characters.
    pub nextcloud_path: String,
}

/// A communication to log.
#[derive(InputObject)]
pub struct CommCreateInput {
    /// The customer this communication is with: not empty, at most 191 characters, no
    /// control characters.
    pub customer_id: String,
    /// Channel of the communication.
    #[graphql(name = "type")]
    pub comm_type: CommType,
    /// Direction of the communication relative to the business.
    pub direction: CommDirection,
    /// At most 1,000 characters.
    pub subject: Option<String>,
    /// At most 1 MiB.
    pub body: Option<String>,
    /// At most 100.
    #[graphql(default_with = "Some(Vec::new())")]
    pub attachments: Option<Vec<CommAttachmentInput>>,
    /// Identifier of the message in its origin system (e.g. an email Message-ID); at most
    /// 1,000 characters.
    pub ext_message_id: Option<String>,
    /// Who logged it; defaults to the caller's name. At most 1,000 characters.
    pub logged_by: Option<String>,
    /// Defaults to now.
    pub occurred_at: Option<DateTime>,
}

impl From<CommCreateInput> for model::NewComm {
    fn from(input: CommCreateInput) -> Self {
        Self {
            customer_id: input.customer_id,
            comm_type: input.comm_type.into(),
            direction: input.direction.into(),
            subject: input.subject,
            body: input.body,
            attachments: input
                .attachments
                .unwrap_or_default()
                .into_iter()
                .map(|a| entity::Attachment {
                    filename: a.filename,
                    nextcloud_path: a.nextcloud_path,
                })
                .collect(),
            ext_message_id: input.ext_message_id,
            logged_by: input.logged_by,
            occurred_at: input.occurred_at.map(|t| t.0),
        }
    }
}

/// Fields to change on a communication. Absent fields are left alone; `null` clears
/// `subject` or `body`; `occurredAt` cannot be cleared.
#[derive(InputObject)]
pub struct CommUpdateInput {
    /// New subject, at most 1,000 characters; `null` clears it.
    pub subject: async_graphql::MaybeUndefined<String>,
    /// New body, at most 1 MiB; `null` clears it.
    pub body: async_graphql::MaybeUndefined<String>,
    /// New time of the communication; cannot be `null`.
    pub occurred_at: async_graphql::MaybeUndefined<DateTime>,
}

/// What happened to one input of `ingestComms`.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::IngestStatus")]
pub enum IngestStatus {
    /// Logged now.
    Created,
    /// A communication with the same `customerId`, `type` and `extMessageId` exists (or came
    /// earlier in the call); nothing was written.
    Duplicate,
    /// Invalid; nothing was written for it (`error` and `field` say why).
    Rejected,
}

/// The result of one input of `ingestComms`, in input order.
#[derive(SimpleObject)]
pub struct IngestResult {
    /// The input's position in `inputs`, from 0.
    pub index: i32,
    /// What happened to it.
    pub status: IngestStatus,
    /// The communication created, or the existing one a duplicate matched.
    pub id: Option<ID>,
    /// That communication.
    pub comm: Option<Comm>,
    /// Why it was rejected (the message `createComm` gives).
    pub error: Option<String>,
    /// The offending input field, e.g. `inputs[3].attachments[0].nextcloudPath`.
    pub field: Option<String>,
}

/// What an `ingestComms` call did.
#[derive(SimpleObject)]
pub struct IngestReport {
    /// Inputs logged now.
    pub created: i32,
    /// Inputs that matched an existing communication.
    pub duplicates: i32,
    /// Invalid inputs.
    pub rejected: i32,
    /// One result per input, in input order.
    pub results: Vec<IngestResult>,
}

impl From<model::IngestReport> for IngestReport {
    fn from(report: model::IngestReport) -> Self {
        let results = report
            .results
            .into_iter()
            .map(|result| {
                let (field, error) = match result.error {
                    Some((field, message)) => {
                        // `inputs[3].attachments[0].nextcloud_path` → `…nextcloudPath`, and the
                        // message names the field as createComm's does.
                        let inner = field.split_once('.').map_or("", |(_, inner)| inner);
                        let message = message.replace(inner, &super::errors::camel_path(inner));
                        (Some(super::errors::camel_path(&field)), Some(message))
                    }
                    None => (None, None),
                };
                IngestResult {
                    index: result.index as i32,
                    status: result.status.into(),
                    id: result.comm.as_ref().map(|c| ID(c.id.clone())),
                    comm: result.comm.map(Comm),
                    error,
                    field,
                }
            })
            .collect();
        Self {
            created: report.created as i32,
            duplicates: report.duplicates as i32,
            rejected: report.rejected as i32,
            results,
        }
    }
}

/// Queries on communications.
#[derive(Default)]
pub struct CommQuery;

#[Object]
impl CommQuery {
    /// A customer's communications, newest first by `occurredAt` (ties by `id`), optionally
    /// filtered by type and direction. `limit` 1..=500, `offset` ≥ 0.
    #[graphql(complexity = "(limit.clamp(1, 500) as usize) * child_complexity + 1")]
    async fn comms(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer whose communications to list.")] customer_id: String,
        #[graphql(name = "type", desc = "Only this channel.")] comm_type: Option<CommType>,
        #[graphql(desc = "Only this direction.")] direction: Option<CommDirection>,
        #[graphql(default = 100, desc = "Size of the page, 1 to 500.")] limit: i32,
        #[graphql(default = 0, desc = "Matches to skip before the page, 0 or more.")] offset: i32,
    ) -> Result<CommList> {
        let page = Page {
            limit: limit.into(),
            offset: offset.into(),
        };
        let filter = CommFilter::customer(
            customer_id,
            comm_type.map(Into::into),
            direction.map(Into::into),
        );
        // Only what the selection asks for: rows, total, and large columns.
        let selected = ctx.look_ahead();
        let want = Want {
            rows: selected.field("entries").exists(),
            total: selected.field("total").exists(),
        };
        let columns = columns_of(ctx, &[&["entries"]]);
        let listing = ctx
            .data::<Service>()?
            .list_comms(&filter, page, columns, want)
            .await?;
        Ok(CommList {
            entries: listing.rows.into_iter().map(Comm).collect(),
            total: listing.total,
        })
    }

    /// A page of communications in a cursor connection, newest first by `occurredAt` then
    /// `id`. Give `first` (default 50) with `after`, or `last` with `before`, each 1 to 500;
    /// cursors stay valid while rows are added or deleted. Without `filter.customerId` it
    /// lists across customers (an inbox view).
    #[graphql(complexity = "super::connection::page_rows(first, last) * child_complexity + 1")]
    async fn comms_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which communications to list; none: all.")] filter: Option<
            CommFilterInput,
        >,
        #[graphql(desc = "The page's size, from the newest end (1 to 500).")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "The page's size, from the oldest end (1 to 500).")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<CommConnection> {
        let filter = CommFilter::from(filter.unwrap_or_default());
        let columns = columns_of(ctx, &[&["edges", "node"], &["nodes"]]);
        let total = ctx.look_ahead().field("totalCount").exists();
        let slice = ctx
            .data::<Service>()?
            .comms_connection(
                &filter,
                &window(ctx, first, after, last, before),
                columns,
                total,
            )
            .await?;
        let page_info = PageInfo::of(&slice, Feed::Comms, Key::of_comm);
        Ok(CommConnection {
            nodes: slice.rows.into_iter().map(Comm).collect(),
            page_info,
            total: slice.total,
        })
    }

    /// A customer's deleted communications still in the trash (kept
    /// `--trash-retention-days`), newest first by `occurredAt` then `id`; restore one with
    /// `restoreComm`.
    async fn deleted_comms(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer whose trash to list.")] customer_id: String,
        #[graphql(desc = "The page's size (1 to 500, default 50).")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
    ) -> Result<CommConnection> {
        let total = ctx.look_ahead().field("totalCount").exists();
        let slice = ctx
            .data::<Service>()?
            .deleted_comms(&customer_id, first.map(i64::from), after, total)
            .await?;
        let page_info = PageInfo::of(&slice, Feed::Comms, Key::of_comm);
        Ok(CommConnection {
            nodes: slice.rows.into_iter().map(Comm).collect(),
            page_info,
            total: slice.total,
        })
    }

    /// One communication, or null if there is none with this id.
    async fn comm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the communication.")] id: ID,
    ) -> Result<Option<Comm>> {
        Ok(ctx.data::<Service>()?.get_comm(&id).await?.map(Comm))
    }
}

fn patch<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// Mutations of communications.
#[derive(Default)]
pub struct CommMutation;

#[Object]
impl CommMutation {
    /// Logs a communication. `occurredAt` defaults to now.
    #[graphql(guard = "WriteGuard")]
    async fn create_comm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The communication to log.")] input: CommCreateInput,
    ) -> Result<Comm> {
        Ok(Comm(
            ctx.data::<Service>()?
                .create_comm(input.into(), actor(ctx))
                .await?,
        ))
    }

    /// Logs a batch of communications idempotently, as connectors (mail pollers, webhooks)
    /// need: an input whose `extMessageId` matches a communication of the same `customerId`
    /// and `type` (or an earlier input) is a DUPLICATE and writes nothing; invalid inputs are
    /// REJECTED and the others still go in, unless `atomic` (then any invalid input fails the
    /// call with BAD_USER_INPUT and nothing is written). At most 1,000 inputs; one
    /// transaction, answered once committed. Safe to retry, also concurrently.
    #[graphql(guard = "WriteGuard")]
    async fn ingest_comms(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The communications to log, 1,000 at most.")] inputs: Vec<CommCreateInput>,
        #[graphql(
            default = false,
            desc = "Whether one invalid input fails the whole call (nothing is written)."
        )]
        atomic: bool,
    ) -> Result<IngestReport> {
        let inputs = inputs
            .into_iter()
            .map(|input| model::IngestInput::Comm(input.into()))
            .collect();
        Ok(ctx
            .data::<Service>()?
            .ingest_comms(inputs, atomic, actor(ctx))
            .await?
            .into())
    }

    /// Changes the fields present in `input`; fails with NOT_FOUND if there is no such id.
    #[graphql(guard = "WriteGuard")]
    async fn update_comm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the communication to change.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: CommUpdateInput,
    ) -> Result<Comm> {
        let occurred_at = match input.occurred_at {
            MaybeUndefined::Null => {
                return Err(
                    ServiceError::validation("occurred_at", "occurredAt cannot be null").into(),
                );
            }
            other => patch(other).flatten().map(|t| t.0),
        };
        let patch = CommPatch {
            subject: patch(input.subject),
            body: patch(input.body),
            occurred_at,
        };
        Ok(Comm(
            ctx.data::<Service>()?
                .update_comm(&id, patch, actor(ctx))
                .await?,
        ))
    }

    /// Brings a deleted communication back from the trash, unchanged (same id, same times);
    /// NOT_FOUND if it is not there (never deleted, restored already, or purged).
    #[graphql(guard = "WriteGuard")]
    async fn restore_comm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the deleted communication.")] id: ID,
    ) -> Result<Comm> {
        Ok(Comm(
            ctx.data::<Service>()?.restore_comm(&id, actor(ctx)).await?,
        ))
    }

    /// Deletes a communication and returns its id; NOT_FOUND if there is no such id. It is kept
    /// in the trash (`deletedComms`, `restoreComm`) for `--trash-retention-days`.
    #[graphql(guard = "WriteGuard")]
    async fn delete_comm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the communication to delete.")] id: ID,
    ) -> Result<ID> {
        ctx.data::<Service>()?.delete_comm(&id, actor(ctx)).await?;
        Ok(id)
    }
}
