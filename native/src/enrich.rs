//! What the flush adds to each event before writing it: its user agent parsed (`br`, `os`, `dt`, and `bot` for a
//! bot; `agent.rs`), and whether it comes from an app platform, which decides whether an HTTP library's agent is a
//! bot's. `put.rs` frames the cells; this module says which.

use crate::agent::{Agent, Agents, Kind};
use crate::event::q;
use crate::schema::QUALIFIERS;

/// What the flush adds to one event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Added {
    /// The parse of its `ua` in the batch's `Agents`; none without a `ua`.
    pub agent: Option<usize>,
    /// Whether it comes from an app platform (`from_app`).
    pub app: bool,
    /// The bytes its added cells take on the wire.
    pub bytes: usize,
}

impl Added {
    /// Whether its user agent is a bot's, which `enrich.drop_bots` leaves out.
    pub fn is_bot(&self, agents: &Agents) -> bool {
        self.agent.is_some_and(|i| agents.get(i).bot(self.app))
    }
}

/// What the flush adds to the event whose fields `fields` gives as `(qualifier id, value)`; each added cell costs
/// `cell_overhead` bytes on the wire besides its qualifier and value.
pub fn added<'a, I: Iterator<Item = (u8, &'a [u8])>>(
    agents: &mut Agents,
    fields: impl Fn() -> I,
    app_platforms: &[Vec<u8>],
    cell_overhead: usize,
) -> Added {
    let Some((_, ua)) = fields().find(|&(id, _)| id == q::UA) else {
        return Added::default();
    };
    let i = agents.of(ua);
    let agent = agents.get(i);
    // Only an HTTP library's agent depends on the platform; the rest need not look.
    let app = agent.kind == Kind::Library && from_app(fields(), app_platforms);
    let bytes = cells(agent, app)
        .map(|(id, v)| QUALIFIERS[usize::from(id)].len() + v.len() + cell_overhead)
        .sum();
    Added {
        agent: Some(i),
        app,
        bytes,
    }
}

/// The cells the flush adds for a parsed user agent: `br`, `os`, `dt`, and `bot` for a bot.
pub fn cells(a: &Agent, app: bool) -> impl Iterator<Item = (u8, &[u8])> {
    [
        (q::BR, a.browser.as_bytes()),
        (q::OS, a.os.as_bytes()),
        (q::DT, a.device(app).as_bytes()),
        (q::BOT, if a.bot(app) { &b"1"[..] } else { &b""[..] }),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
}

/// Whether an event comes from an app platform: its `p`, or the Snowplow platform the Snowplow routes keep as
/// `d.platform` (`docs/snowplow.md`), is one of `app_platforms`, compared exactly.
pub fn from_app<'a>(fields: impl Iterator<Item = (u8, &'a [u8])>, app_platforms: &[Vec<u8>]) -> bool {
    let listed = |p: &[u8]| app_platforms.iter().any(|a| a == p);
    for (id, value) in fields {
        match id {
            q::P if listed(value) => return true,
            // Parsed only for an HTTP library's events, which are few: a browser's never get here.
            q::D => {
                let d = serde_json::from_slice::<serde_json::Value>(value).ok();
                let platform = d.as_ref().and_then(|d| d.get("platform")?.as_str());
                if platform.is_some_and(|p| listed(p.as_bytes())) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_from_an_app_by_its_p_or_its_snowplow_platform() {
        let apps = [b"mob".to_vec(), b"android".to_vec()];
        let from =
            |fields: &[(u8, &str)]| from_app(fields.iter().map(|&(q, v)| (q, v.as_bytes())), &apps);
        assert!(from(&[(q::P, "android")]));
        assert!(from(&[
            (q::P, "shop-android"),
            (q::D, r#"{"e":"pv","platform":"mob"}"#)
        ]));
        assert!(!from(&[(q::P, "web")]));
        assert!(!from(&[(q::P, "Android")]), "compared exactly");
        assert!(!from(&[(q::D, r#"{"platform":"web"}"#)]));
        assert!(!from(&[(q::D, "platform mob")]));
        assert!(!from(&[(q::D, r#"{"x":{"platform":"mob"}}"#)]));
        assert!(!from(&[(q::A, "mob")]));
        assert!(!from(&[]));
    }
}
