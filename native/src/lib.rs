//! The napi surface of spoor's encoder: one call per request turns it into binary HBase records.
#![deny(clippy::all)]

mod agent;
mod als;
mod args;
mod batch;
mod encoder;
mod enrich;
mod event;
#[cfg(any(test, fuzzing))]
pub mod fuzz;
mod geo;
mod identity;
mod ip;
mod json;
mod links;
mod notify;
mod options;
mod put;
mod query;
mod records;
mod rowkey;
mod schema;
mod session;
mod url;

use napi::bindgen_prelude::{ArrayBuffer, Buffer, BufferSlice, Either};
use napi::{Env, Error, JsString, Result};
use napi_derive::napi;

/// Result bit of `pixel()`/`events()`: a new uid was minted and its 32 hex chars are in `uidOut[0..32]`.
#[napi]
pub const NEW_UID: i32 = 1;

/// Result bit of `pixel()`/`events()`: the batch reached `batchMaxBytes`; call `takeBatch()` now.
#[napi]
pub const BATCH_FULL: i32 = 2;

/// Why `pixel()`/`events()` rejected a request; nothing of a rejected request enters the batch.
#[napi]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The pixel query string is longer than `maxQueryBytes`.
    QueryTooLong = -1,
    /// More than `maxFields` query params, or keys in one event object.
    TooManyFields = -2,
    /// A `%` not followed by two hex digits.
    BadEscape = -3,
    /// Decoded query bytes are not valid UTF-8 (a JSON body that is not UTF-8 is BadJson).
    BadUtf8 = -4,
    /// A value is longer than `maxValueBytes` (`maxDataBytes` for `d`, 64 for `eid`).
    ValueTooLong = -5,
    /// Not JSON, not an array of objects, or a field of the wrong JSON type.
    BadJson = -6,
    /// The body nests deeper than `maxJsonDepth`.
    JsonTooDeep = -7,
    /// The body holds more than `maxEventsPerPost` events.
    TooManyEvents = -8,
    /// A field has a value its meaning forbids: `ct` not 1..=16 digits, `uid` or `eid` empty.
    BadField = -9,
}

/// Limits and switches of an `Encoder`, checked once by its constructor.
#[napi(object)]
pub struct EncoderOptions {
    /// Salt/bucket count N of the rowkeys' first byte; an integer from 1 to 256. Changing it re-keys all new rows.
    pub salt_buckets: f64,
    /// Longest pixel query string in bytes; an integer from 1 to 4294967295. Longer is QUERY_TOO_LONG.
    pub max_query_bytes: f64,
    /// Most query params per pixel, and keys per JSON event object, unknown ones included; 1 to 4294967295.
    pub max_fields: f64,
    /// Longest decoded value in bytes, except `d`, `eid` and the headers (which are truncated to it); 1 to 65535.
    pub max_value_bytes: f64,
    /// Longest `d` value in bytes (for JSON: its compact text); 1 to 65535.
    pub max_data_bytes: f64,
    /// Most events in one JSON body; 1 to 4294967295.
    pub max_events_per_post: f64,
    /// Deepest nesting of a JSON body, its array being depth 1; 2 to 128.
    pub max_json_depth: f64,
    /// Batch size in bytes from which calls return BATCH_FULL; 1 to 4294967295.
    pub batch_max_bytes: f64,
    /// Store IPv4 with the last octet zeroed and IPv6 cut to its /48.
    pub anonymize_ip: bool,
    /// Name of the cookie that carries the 32-hex-char uid, e.g. `sp_uid`; a non-empty cookie token.
    pub cookie_name: String,
    /// Identity fields not to store even when sent, among `sto`, `eti`, `fp` and `lid` (methods switched off).
    pub drop_ids: Option<Vec<String>>,
    /// MaxMind DB files giving each event's country, region and city from the client address, tried in order;
    /// none or empty stores no place. The constructor throws naming a file it cannot open.
    pub geoip_databases: Option<Vec<String>>,
}

/// Encodes requests into an in-memory batch of records; one per thread, as it is not shared.
#[napi]
pub struct Encoder {
    inner: encoder::Encoder,
    texts: args::Texts,
}

#[napi]
impl Encoder {
    /// Throws an Error naming the first option that is out of range.
    #[napi(constructor)]
    pub fn new(options: EncoderOptions) -> Result<Self> {
        let limits = options::Limits::check(&options).map_err(args::invalid)?;
        let geo = match options.geoip_databases.as_deref() {
            Some(paths) if !paths.is_empty() => {
                Some(geo::Geo::open(paths).map_err(Error::from_reason)?)
            }
            _ => None,
        };
        let inner =
            encoder::Encoder::new(limits, geo).map_err(|e| Error::from_reason(e.to_string()))?;
        Ok(Self {
            inner,
            texts: args::Texts::default(),
        })
    }

    /// Encodes one pixel request: a bit set of NEW_UID and BATCH_FULL, or a negative EncodeError. With `anonymous`
    /// (a browser's privacy signal, `docs/privacy.md`), its events are stored under the uid of 32 zeros without the
    /// cookie, identity ids, address, region or city.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn pixel(
        &mut self,
        query: JsString,
        user_agent: JsString,
        referer: JsString,
        cookie: JsString,
        ip: ArrayBuffer,
        now_ms: f64,
        mut uid_out: BufferSlice,
        anonymous: Option<bool>,
    ) -> Result<i32> {
        let t = &mut self.texts;
        let query = args::read(&query, &mut t.query)?;
        let req = encoder::Request {
            user_agent: args::read(&user_agent, &mut t.user_agent)?,
            referer: args::read(&referer, &mut t.referer)?,
            cookie: args::read(&cookie, &mut t.cookie)?,
            ip: &ip,
            now_ms,
            anonymous: anonymous.unwrap_or(false),
        };
        Ok(self.inner.pixel(query, &req, args::uid_out(&mut uid_out)?))
    }

    /// Encodes a JSON array of events, all or none: a bit set of NEW_UID and BATCH_FULL, or a negative EncodeError.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn events(
        &mut self,
        body: BufferSlice,
        user_agent: JsString,
        referer: JsString,
        cookie: JsString,
        ip: ArrayBuffer,
        now_ms: f64,
        mut uid_out: BufferSlice,
        anonymous: Option<bool>,
    ) -> Result<i32> {
        let t = &mut self.texts;
        let req = encoder::Request {
            user_agent: args::read(&user_agent, &mut t.user_agent)?,
            referer: args::read(&referer, &mut t.referer)?,
            cookie: args::read(&cookie, &mut t.cookie)?,
            ip: &ip,
            now_ms,
            anonymous: anonymous.unwrap_or(false),
        };
        Ok(self.inner.events(&body, &req, args::uid_out(&mut uid_out)?))
    }

    /// Hands over the current batch (header and records) and starts an empty one; null when empty. The Buffer is
    /// one copy of the batch in memory the JS engine owns (not external memory), the whole of its ArrayBuffer, so
    /// that `postMessage` can transfer it to another thread instead of copying it again.
    #[napi(ts_return_type = "Buffer | null")]
    pub fn take_batch<'env>(&mut self, env: &'env Env) -> Result<Option<BufferSlice<'env>>> {
        self.inner
            .take_batch_with(|batch| BufferSlice::copy_from(env, batch))
            .transpose()
    }

    /// Events in the current batch.
    #[napi(getter)]
    pub fn pending(&self) -> u32 {
        self.inner.pending()
    }
}

/// One batch as Thrift2 `putMultiple` requests for HBase's gateway, for the flush workers: checked once, cut into
/// requests under `maxRequestBytes`, each written as one frame (framed transport, compact protocol) on demand.
#[napi]
pub struct PutRequests {
    /// Reads the batch where JS holds it (the Buffer keeps it alive), without a copy of its own.
    inner: put::Requests<Buffer>,
}

/// Why the flush can never write a batch: it is not format v1. The flush keeps it as a dead letter with this reason.
#[napi(object)]
pub struct BatchRejected {
    /// Starts `batch is not format v1:`, then what is wrong, as the reference decoder says it.
    pub reason: String,
}

/// One batch as Thrift2 `putMultiple` requests for the flush, or why it can never be written: the flush's outcome
/// is typed, not read from a message. Checks the batch (format v1) and keeps a reference to it, not a copy: do not
/// change the Buffer while the PutRequests is in use. `saltBuckets` (1–256) salts the
/// identity table's rows, as `hbase.salt_buckets` does the event tables'; out of range, it throws.
/// With `dropBots`, events whose user agent is a bot's are left out (`droppedBots` counts them). An HTTP library's
/// agent is no bot's on the events of `appPlatforms` (`enrich.app_platforms`, `native/src/agent.rs`).
#[napi(ts_return_type = "PutRequests | BatchRejected")]
pub fn put_requests(
    batch: Buffer,
    max_request_bytes: u32,
    salt_buckets: f64,
    drop_bots: Option<bool>,
    app_platforms: Option<Vec<String>>,
) -> Result<Either<PutRequests, BatchRejected>> {
    let n = options::salt_buckets("saltBuckets", salt_buckets).map_err(args::invalid)?;
    let platforms = app_platforms
        .unwrap_or_default()
        .into_iter()
        .map(String::into_bytes)
        .collect::<Vec<_>>();
    Ok(
        match put::Requests::new(
            batch,
            max_request_bytes as usize,
            n,
            drop_bots.unwrap_or(false),
            &platforms,
        ) {
            Ok(inner) => Either::A(PutRequests { inner }),
            Err(reason) => Either::B(BatchRejected {
                reason: format!("batch is not format v1: {reason}"),
            }),
        },
    )
}

#[napi]
impl PutRequests {
    /// Events in the batch.
    #[napi(getter)]
    pub fn events(&self) -> u32 {
        self.inner.events() as u32
    }

    /// Events left out as bots' (with `dropBots`); `events` counts the others.
    #[napi(getter)]
    pub fn dropped_bots(&self) -> u32 {
        self.inner.dropped_bots() as u32
    }

    /// Requests per table.
    #[napi(getter)]
    pub fn requests(&self) -> u32 {
        self.inner.requests() as u32
    }

    /// Requests for the identity table: the batch's links (`docs/identity.md`), merged; often none.
    #[napi(getter)]
    pub fn link_requests(&self) -> u32 {
        self.inner.link_requests() as u32
    }

    /// Identity request `index` (0 ≤ index < linkRequests) as a whole frame, length first, like `frame`.
    #[napi]
    pub fn link_frame(&self, index: u32, table: BufferSlice, seqid: i32) -> Result<Buffer> {
        if index as usize >= self.inner.link_requests() {
            return Err(args::invalid(format!(
                "link request {index} of {}",
                self.inner.link_requests()
            )));
        }
        Ok(self.inner.link_frame(index as usize, &table, seqid).into())
    }

    /// Request `index` (0 ≤ index < requests) as a whole frame, length first: `putMultiple(table, puts)` with the
    /// sequence id given, each event's row being its by-time rowkey if `byTime`, else its by-user rowkey.
    #[napi]
    pub fn frame(
        &self,
        index: u32,
        table: BufferSlice,
        by_time: bool,
        seqid: i32,
    ) -> Result<Buffer> {
        if index as usize >= self.inner.requests() {
            return Err(args::invalid(format!(
                "request {index} of {}",
                self.inner.requests()
            )));
        }
        let key = if by_time {
            put::Key::ByTime
        } else {
            put::Key::ByUser
        };
        Ok(self.inner.frame(index as usize, &table, key, seqid).into())
    }
}

/// Settings of `Sessions`, checked by its constructor and by `configure`.
#[napi(object)]
pub struct SessionOptions {
    /// A user's event more than this after their previous one starts a new session; ms, 1 to 4294967295.
    pub timeout_ms: f64,
    /// Most users whose session state is kept, the least recently seen dropped first; 1 to 4294967295.
    pub max_users: f64,
    /// The operator's own host names (no scheme, port or path): a `ref` from one of them is internal, as one from
    /// the event's own `url` host is, and never starts a session. Compared case-insensitively and exactly.
    pub own_hosts: Vec<String>,
}

/// Session ids for the records of the serving threads' batches, by user and time; one for the whole collector, on the main
/// thread. The rule is documented in `native/src/session.rs` and `docs/sessions.md`.
#[napi]
pub struct Sessions {
    inner: session::Sessions,
}

#[napi]
impl Sessions {
    /// Throws an Error naming the first option that is wrong.
    #[napi(constructor)]
    pub fn new(options: SessionOptions) -> Result<Self> {
        let settings = session::Settings::check(&options).map_err(args::invalid)?;
        Ok(Self {
            inner: session::Sessions::new(settings),
        })
    }

    /// Applies new settings to the kept state; a smaller `maxUsers` drops the least recently seen users.
    #[napi]
    pub fn configure(&mut self, options: SessionOptions) -> Result<()> {
        let settings = session::Settings::check(&options).map_err(args::invalid)?;
        self.inner.configure(settings);
        Ok(())
    }

    /// The batch with a `sid` in every record that had none; throws an Error whose message starts
    /// `batch is not format v1:` for a bad batch, and then has changed no state.
    #[napi]
    pub fn assign(&mut self, batch: BufferSlice) -> Result<Buffer> {
        self.inner
            .assign(&batch)
            .map(Buffer::from)
            .map_err(Error::from_reason)
    }

    /// Users whose session state is kept.
    #[napi(getter)]
    pub fn users(&self) -> u32 {
        self.inner.users() as u32
    }
}

/// What the flush stores for a user agent: browser, OS, device type and bot flag (`native/src/agent.rs`).
#[napi(object)]
pub struct UserAgent {
    pub browser: String,
    pub os: String,
    pub device: String,
    pub bot: bool,
}

/// `app` says whether the event comes from an app platform (`enrich.app_platforms`), where an HTTP library's agent is no bot's.
#[napi]
pub fn user_agent(ua: String, app: Option<bool>) -> UserAgent {
    let a = agent::parse(ua.as_bytes());
    let app = app.unwrap_or(false);
    UserAgent {
        device: a.device(app).to_string(),
        bot: a.bot(app),
        browser: a.browser,
        os: a.os,
    }
}

/// The identity table's rowkey of an id written `t:value` (`docs/identity.md`): its salt byte, then the text.
#[napi]
pub fn identity_row(id: String, salt_buckets: f64) -> Result<Buffer> {
    let n = options::salt_buckets("saltBuckets", salt_buckets).map_err(args::invalid)?;
    Ok(links::row_key(id.as_bytes(), n).into())
}

/// The by-time rowkey of the event whose by-user rowkey is `userKey` (33 bytes): same time, uid and event id, and
/// the bucket of its event id.
#[napi]
pub fn time_row_key(user_key: BufferSlice, salt_buckets: f64) -> Result<Buffer> {
    let n = options::salt_buckets("saltBuckets", salt_buckets).map_err(args::invalid)?;
    let key: &[u8; rowkey::LEN] = user_key.as_ref().try_into().map_err(|_| {
        args::invalid(format!(
            "userKey must be {} bytes, not {}",
            rowkey::LEN,
            user_key.len()
        ))
    })?;
    Ok(rowkey::time_key_of(key, n).to_vec().into())
}

/// salt(1) + uid16(16): the prefix of a user's rows in the by-user table.
#[napi]
pub fn user_row_prefix(uid: String, salt_buckets: f64) -> Result<Buffer> {
    let n = options::salt_buckets("saltBuckets", salt_buckets).map_err(args::invalid)?;
    Ok(rowkey::user_prefix(&args::uid(&uid)?, n).to_vec().into())
}

/// A uid as the collector stores it, in the `uid` column and in the identity table's `u:` ids: 32 hex chars
/// lowercased, any other string as given. Readers normalise a uid they are given with this before looking it up.
#[napi]
pub fn uid_text(uid: String) -> Result<String> {
    args::uid(&uid)?;
    let mut lower = [0; 32];
    let (_, text) = identity::given_uid(uid.as_bytes(), &mut lower);
    Ok(String::from_utf8_lossy(text).into_owned())
}

/// Sends `state` (newline-separated `KEY=value` lines, e.g. `READY=1`) to `$NOTIFY_SOCKET` as sd_notify(3) does:
/// false when the variable is unset or empty (not run by systemd), true once sent; throws when sending fails.
#[napi]
pub fn sd_notify(state: String) -> Result<bool> {
    notify::notify(&state).map_err(|e| Error::from_reason(e.to_string()))
}

/// spoor's HBase column families and the event family's qualifiers (`native/src/schema.rs`, docs/hbase-schema.md).
#[napi(object)]
pub struct HBaseSchema {
    /// The family of the by-user and by-time tables.
    pub family: String,
    /// The identity table's family.
    pub link_family: String,
    /// The reports table's family.
    pub report_family: String,
    /// The qualifiers of `family`, indexed by the qualifier id of a batch record.
    pub qualifiers: Vec<String>,
}

/// The one definition of the families and qualifiers, for the TypeScript readers, schema and tests.
#[napi]
pub fn hbase_schema() -> HBaseSchema {
    let text = |name: &[u8]| String::from_utf8_lossy(name).into_owned();
    HBaseSchema {
        family: text(schema::FAMILY),
        link_family: text(schema::LINK_FAMILY),
        report_family: text(schema::REPORT_FAMILY),
        qualifiers: schema::QUALIFIERS.iter().map(|q| text(q)).collect(),
    }
}

/// The integers an option of `EncoderOptions` or `SessionOptions` accepts, both ends included (`native/src/options.rs`).
#[napi(object)]
pub struct OptionRange {
    /// The option's name, as in `EncoderOptions` or `SessionOptions`.
    pub name: String,
    pub min: f64,
    pub max: f64,
}

/// The range of every integer option, defined once; the config keys that feed them must lie within them.
#[napi]
pub fn option_ranges() -> Vec<OptionRange> {
    options::RANGES
        .iter()
        .map(|(name, r)| OptionRange {
            name: name.to_string(),
            min: r.min as f64,
            max: r.max as f64,
        })
        .collect()
}

/// ALS's parameters of a model generation, as its meta.json records them.
#[napi(object)]
pub struct ModelParams {
    /// Latent factors per user and item; 1 to 500.
    pub rank: u32,
    pub reg_param: f64,
    pub alpha: f64,
}

/// Items of an answer, best first, with their scores (a dot product for recommendations, a cosine otherwise).
#[napi(object)]
pub struct Ranked {
    pub items: Vec<String>,
    pub scores: Vec<f64>,
}

/// A recommendation model generation being served (`native/src/als.rs`, docs/recommendations.md#serving): built
/// from the generation's files, it folds new preferences into users' vectors and answers top-N scans.
#[napi]
pub struct Recommender {
    inner: als::Model,
}

fn ranked(m: &als::Model, scored: Vec<als::Scored>) -> Ranked {
    Ranked {
        items: scored
            .iter()
            .map(|s| m.item_name(s.item).to_string())
            .collect(),
        scores: scored.iter().map(|s| s.score as f64).collect(),
    }
}

/// Builds a Recommender on a thread of libuv's pool, off the event loop: `loadRecommender`.
pub struct LoadRecommender {
    params: als::Params,
    items_json: Vec<u8>,
    item_factors: Vec<u8>,
    users_json: Vec<u8>,
    user_factors: Vec<u8>,
    strengths: Vec<u8>,
}

impl napi::Task for LoadRecommender {
    type Output = als::Model;
    type JsValue = Recommender;

    fn compute(&mut self) -> Result<Self::Output> {
        let ids = |json: &[u8], what: &str| {
            serde_json::from_slice::<Vec<String>>(json)
                .map_err(|e| args::invalid(format!("{what} is not a JSON array of strings: {e}")))
        };
        let items = ids(&self.items_json, "items.json")?;
        let users = ids(&self.users_json, "users.json")?;
        als::Model::new(
            self.params,
            items,
            &self.item_factors,
            users,
            &self.user_factors,
            &self.strengths,
        )
        .map_err(|e| args::invalid(e.to_string()))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(Recommender { inner: output })
    }
}

fn model_params(params: &ModelParams) -> Result<als::Params> {
    if !(1..=500).contains(&params.rank) {
        return Err(args::invalid(format!(
            "rank {} is not 1 to 500",
            params.rank
        )));
    }
    Ok(als::Params {
        rank: params.rank as usize,
        reg_param: params.reg_param,
        alpha: params.alpha,
    })
}

/// A Recommender built from a generation's files as they are on disk (`items.json` and `users.json` as JSON arrays
/// of strings), on a thread of libuv's pool: the event loop only copies the bytes, so a server swapping generations
/// goes on answering meanwhile. Rejects saying what disagrees.
#[napi(ts_return_type = "Promise<Recommender>")]
pub fn load_recommender(
    params: ModelParams,
    items_json: BufferSlice,
    item_factors: BufferSlice,
    users_json: BufferSlice,
    user_factors: BufferSlice,
    strengths: BufferSlice,
) -> Result<napi::bindgen_prelude::AsyncTask<LoadRecommender>> {
    Ok(napi::bindgen_prelude::AsyncTask::new(LoadRecommender {
        params: model_params(&params)?,
        items_json: items_json.to_vec(),
        item_factors: item_factors.to_vec(),
        users_json: users_json.to_vec(),
        user_factors: user_factors.to_vec(),
        strengths: strengths.to_vec(),
    }))
}

#[napi]
impl Recommender {
    /// `itemFactors` and `userFactors` hold `rank` little-endian float32 a row, in the order of `items` and `users`;
    /// `strengths` holds records of (user index u32, item index u32, strength f32), little-endian. Throws saying
    /// what disagrees.
    #[napi(constructor)]
    pub fn new(
        params: ModelParams,
        items: Vec<String>,
        item_factors: BufferSlice,
        users: Vec<String>,
        user_factors: BufferSlice,
        strengths: BufferSlice,
    ) -> Result<Self> {
        let p = model_params(&params)?;
        als::Model::new(p, items, &item_factors, users, &user_factors, &strengths)
            .map(|inner| Self { inner })
            .map_err(|e| args::invalid(e.to_string()))
    }

    #[napi(getter)]
    pub fn items(&self) -> u32 {
        self.inner.item_count() as u32
    }

    #[napi(getter)]
    pub fn users(&self) -> u32 {
        self.inner.user_count() as u32
    }

    /// Whether the model knows the user (trained, or folded in since).
    #[napi]
    pub fn has_user(&self, user: String) -> bool {
        self.inner.user(&user).is_some()
    }

    /// Whether the model knows the item.
    #[napi]
    pub fn has_item(&self, item: String) -> bool {
        self.inner.item(&item).is_some()
    }

    /// Adds `strength` to the user's preference for `item` and folds the user in again at once. False when the item
    /// is not in the model, which then changes nothing.
    #[napi]
    pub fn add(&mut self, user: String, item: String, strength: f64) -> bool {
        self.inner.add(&user, &item, strength as f32)
    }

    /// Forgets the user's vector and preferences; false when the model did not know them.
    #[napi]
    pub fn remove(&mut self, user: String) -> bool {
        self.inner.remove(&user)
    }

    /// The user's `n` best items they have no preference for yet; null for a user the model does not know.
    #[napi]
    pub fn recommend(&self, user: String, n: u32) -> Option<Ranked> {
        let u = self.inner.user(&user)?;
        let top = self
            .inner
            .top(self.inner.vector(u), n as usize, self.inner.prefs(u));
        Some(ranked(&self.inner, top))
    }

    /// Recommendations for preferences the model has not trained: `items` with their `strengths` folded into a
    /// vector of their own (cold start), the `n` best other items. Items the model does not know are left out; null
    /// when none is known.
    #[napi]
    pub fn recommend_for(
        &self,
        items: Vec<String>,
        strengths: Vec<f64>,
        n: u32,
    ) -> Result<Option<Ranked>> {
        if items.len() != strengths.len() {
            return Err(args::invalid(format!(
                "{} items but {} strengths",
                items.len(),
                strengths.len()
            )));
        }
        let mut prefs: als::Prefs = items
            .iter()
            .zip(&strengths)
            .filter_map(|(i, &s)| self.inner.item(i).map(|i| (i, s as f32)))
            .collect();
        if prefs.is_empty() {
            return Ok(None);
        }
        als::merge_sorted(&mut prefs);
        let v = self.inner.fold_in(&prefs);
        Ok(Some(ranked(
            &self.inner,
            self.inner.top(&v, n as usize, &prefs),
        )))
    }

    /// The `n` items most like `item`; null for an item the model does not know.
    #[napi]
    pub fn similar(&self, item: String, n: u32) -> Option<Ranked> {
        let i = self.inner.item(&item)?;
        Some(ranked(&self.inner, self.inner.similar(i, n as usize)))
    }

    /// Which of the user's items led to `item`: the `n` most like it. Null for a user or item the model does not know.
    #[napi]
    pub fn because(&self, user: String, item: String, n: u32) -> Option<Ranked> {
        let u = self.inner.user(&user)?;
        let i = self.inner.item(&item)?;
        Some(ranked(
            &self.inner,
            self.inner.because(self.inner.prefs(u), i, n as usize),
        ))
    }
}
