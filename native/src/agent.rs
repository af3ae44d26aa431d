//! User-agent enrichment at flush time: browser, OS, device type (`woothee`) and a bot flag (`isbot`).
//!
//! Parsing costs microseconds, far more than the rest of the request, so the flush workers do it
//! while writing a batch to HBase, not the serving threads: the `ua` column stays as the browser
//! sent it, and the parsed columns are added to the puts. A batch parses each distinct agent once.

use std::collections::HashMap;
use std::sync::OnceLock;

use isbot::Bots;
use woothee::parser::Parser;
use woothee::woothee::VALUE_UNKNOWN;

/// What a user agent says, as the values of the `br`, `os`, `dt` and `bot` columns; empty is not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    /// Browser name and major version, such as `Chrome 131`.
    pub browser: String,
    /// Operating system, with its version where the agent gives one, such as `Android 14`.
    pub os: String,
    /// `desktop`, `mobile`, `appliance`, `bot` or `other`.
    pub device: &'static str,
    pub bot: bool,
}

fn bots() -> &'static Bots {
    static BOTS: OnceLock<Bots> = OnceLock::new();
    BOTS.get_or_init(Bots::default)
}

fn known(s: &str) -> Option<&str> {
    (!s.is_empty() && s != VALUE_UNKNOWN).then_some(s)
}

/// Parses one user agent; bytes that are not UTF-8 (the encoder stores headers as sent) parse as unknown.
pub fn parse(ua: &[u8]) -> Agent {
    let Ok(ua) = std::str::from_utf8(ua) else {
        return Agent {
            device: "other",
            ..Agent::default()
        };
    };
    let bot = bots().is_bot(ua);
    let Some(w) = Parser::new().parse(ua) else {
        return Agent {
            device: if bot { "bot" } else { "other" },
            bot,
            ..Agent::default()
        };
    };
    let crawler = w.category == "crawler";
    let browser = match (known(w.name), known(w.version)) {
        (Some(name), _) if crawler => name.to_string(),
        (Some(name), Some(version)) => {
            format!("{name} {}", version.split('.').next().unwrap_or(version))
        }
        (Some(name), None) => name.to_string(),
        (None, _) => String::new(),
    };
    let os = match (known(w.os), known(&w.os_version)) {
        // Windows names carry their version already; woothee gives its NT number besides.
        (Some(os), Some(v)) if v.starts_with(|c: char| c.is_ascii_digit()) => format!("{os} {v}"),
        (Some(os), _) => os.to_string(),
        (None, _) => String::new(),
    };
    let bot = bot || crawler;
    let device = match w.category {
        _ if bot => "bot",
        "pc" => "desktop",
        "smartphone" | "mobilephone" => "mobile",
        "appliance" => "appliance",
        _ => "other",
    };
    Agent {
        browser,
        os,
        device,
        bot,
    }
}

/// Parses each distinct agent of a batch once.
#[derive(Default)]
pub struct Agents {
    seen: HashMap<Vec<u8>, usize>,
    parsed: Vec<Agent>,
}

impl Agents {
    /// The index of `ua`'s parse in `get`.
    pub fn of(&mut self, ua: &[u8]) -> usize {
        if let Some(&i) = self.seen.get(ua) {
            return i;
        }
        self.parsed.push(parse(ua));
        self.seen.insert(ua.to_vec(), self.parsed.len() - 1);
        self.parsed.len() - 1
    }

    pub fn get(&self, i: usize) -> &Agent {
        &self.parsed[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(ua: &str) -> (String, String, &'static str, bool) {
        let a = parse(ua.as_bytes());
        (a.browser, a.os, a.device, a.bot)
    }

    #[test]
    fn parses_browsers_and_devices() {
        assert_eq!(
            agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
            ("Chrome 131".into(), "Windows 10".into(), "desktop", false)
        );
        assert_eq!(
            agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
            ("Safari 17".into(), "iPhone 17.4".into(), "mobile", false)
        );
        assert_eq!(
            agent("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36"),
            ("Chrome 126".into(), "Android 14".into(), "mobile", false)
        );
    }

    #[test]
    fn flags_bots() {
        let google =
            agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert_eq!((google.2, google.3), ("bot", true));
        assert!(agent("curl/8.5.0").3, "a command-line client is no visitor");
        assert!(agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36").3);
        assert_eq!(agent(""), (String::new(), String::new(), "other", false));
        assert_eq!(parse(&[0xff, 0xfe]).device, "other");
    }

    #[test]
    fn parses_each_distinct_agent_once() {
        let mut agents = Agents::default();
        let a = agents.of(b"curl/8.5.0");
        let b = agents.of(b"Wget/1.21");
        assert_eq!(agents.of(b"curl/8.5.0"), a);
        assert_ne!(a, b);
        assert!(agents.get(a).bot);
    }
}
