//! User-agent enrichment at flush time: browser, OS, device type (`woothee`) and a bot flag (`isbot`).
//!
//! Parsing costs microseconds, far more than the rest of the request, so the flush workers do it
//! while writing a batch to HBase, not the serving threads: the `ua` column stays as the browser
//! sent it, and the parsed columns are added to the puts. A batch parses each distinct agent once.
//!
//! Bots are crawlers and monitors. isbot also flags the agents of HTTP libraries (OkHttp, Java's
//! `HttpURLConnection`, axios, …), which is right for a browser's events, where no person sends
//! those, and wrong for an app's: the Snowplow Android tracker sends OkHttp's own agent, and a
//! backend's tracker its library's. So an agent that isbot flags only for one of `HTTP_LIBRARIES`
//! is a [`Kind::Library`], which is a bot's unless the event comes from an app platform
//! (`enrich.app_platforms`, decided per event by the flush); a crawler is a bot's on any platform.

use std::collections::HashMap;
use std::sync::OnceLock;

use isbot::Bots;
use woothee::parser::Parser;
use woothee::woothee::VALUE_UNKNOWN;

/// isbot's patterns (exactly as its list writes them) for the HTTP libraries that apps and backends are built on.
/// Command-line tools (`^curl`, `wget`) are not among them: monitors and scripts use them, shipped apps do not.
const HTTP_LIBRARIES: [&str; 15] = [
    "okhttp",
    "^java/",
    "httpurlconnection",
    "httpclient",
    "ahc/",
    "jetty",
    "axios",
    "node-fetch/",
    "go-http-client",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "guzzlehttp",
    "^unityplayer",
];

/// Who sends an agent, as far as the bot flag goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kind {
    /// A browser, an app's own agent, or anything else no list names.
    #[default]
    Person,
    /// An HTTP library alone (`HTTP_LIBRARIES`): a bot's, unless the event comes from an app platform.
    Library,
    /// A crawler or monitor: a bot's on any platform.
    Crawler,
}

/// What a user agent says, for the `br`, `os`, `dt` and `bot` columns; empty is not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    /// Browser name and major version, such as `Chrome 131`.
    pub browser: String,
    /// Operating system, with its version where the agent gives one, such as `Android 14`.
    pub os: String,
    /// The device when the event is no bot's: `desktop`, `mobile`, `appliance` or `other`.
    pub device: &'static str,
    pub kind: Kind,
}

impl Agent {
    /// Whether an event with this agent is a bot's; `app` says whether it comes from an app platform.
    pub fn bot(&self, app: bool) -> bool {
        match self.kind {
            Kind::Person => false,
            Kind::Library => !app,
            Kind::Crawler => true,
        }
    }

    /// The `dt` column: `bot` for a bot's event, else the device.
    pub fn device(&self, app: bool) -> &'static str {
        if self.bot(app) {
            "bot"
        } else {
            self.device
        }
    }
}

fn bots() -> &'static Bots {
    static BOTS: OnceLock<Bots> = OnceLock::new();
    BOTS.get_or_init(Bots::default)
}

/// isbot's patterns without the HTTP libraries': what still matches is a crawler or monitor.
fn crawlers() -> &'static Bots {
    static CRAWLERS: OnceLock<Bots> = OnceLock::new();
    CRAWLERS.get_or_init(|| {
        let mut bots = Bots::default();
        bots.remove(&HTTP_LIBRARIES);
        bots
    })
}

/// The kind isbot gives an agent; woothee's crawler category is added by `parse`.
fn kind(ua: &str) -> Kind {
    if !bots().is_bot(ua) {
        Kind::Person
    } else if crawlers().is_bot(ua) {
        Kind::Crawler
    } else {
        Kind::Library
    }
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
    let kind = kind(ua);
    let Some(w) = Parser::new().parse(ua) else {
        return Agent {
            device: "other",
            kind,
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
    let device = match w.category {
        "pc" => "desktop",
        "smartphone" | "mobilephone" => "mobile",
        "appliance" => "appliance",
        _ => "other",
    };
    Agent {
        browser,
        os,
        device,
        kind: if crawler { Kind::Crawler } else { kind },
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

    /// Browser, OS, and `dt` and bot flag off an app platform.
    fn agent(ua: &str) -> (String, String, &'static str, bool) {
        let a = parse(ua.as_bytes());
        let (device, bot) = (a.device(false), a.bot(false));
        (a.browser, a.os, device, bot)
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
        assert_eq!(parse(&[0xff, 0xfe]).device(false), "other");
    }

    #[test]
    fn an_http_library_is_a_bot_only_off_an_app_platform() {
        // The Snowplow Android tracker (OkHttp's agent), a plain Java client (HttpURLConnection's default), and others.
        for ua in [
            "okhttp/4.12.0",
            "okhttp/3.14.9",
            "Java/17.0.15",
            "Apache-HttpClient/4.5.14 (Java/17.0.15)",
            "axios/1.7.9",
            "node-fetch/1.0",
            "Go-http-client/2.0",
            "python-requests/2.32.3",
            "UnityPlayer/2022.3.10f1 (UnityWebRequest/1.0, libcurl/8.1.1-DEV)",
        ] {
            let a = parse(ua.as_bytes());
            assert_eq!(a.kind, Kind::Library, "{ua}");
            assert_eq!((a.bot(false), a.device(false)), (true, "bot"), "{ua}");
            assert_eq!((a.bot(true), a.device(true)), (false, "other"), "{ua}");
        }
        // The Snowplow iOS tracker sends the app's URLSession agent, Android's default client Dalvik's: no bot's anywhere.
        for ua in [
            "Shop/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
            "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)",
        ] {
            let a = parse(ua.as_bytes());
            assert_eq!(
                (a.kind, a.device(false), a.device(true)),
                (Kind::Person, "mobile", "mobile"),
                "{ua}"
            );
        }
    }

    #[test]
    fn a_crawler_or_tool_is_a_bot_on_any_platform() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "okhttp/4.12.0 (compatible; Googlebot/2.1)",
            "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            "curl/8.5.0",
            "Wget/1.21",
        ] {
            let a = parse(ua.as_bytes());
            assert_eq!(a.kind, Kind::Crawler, "{ua}");
            assert_eq!((a.bot(true), a.device(true)), (true, "bot"), "{ua}");
        }
    }

    #[test]
    fn every_http_library_pattern_is_one_of_isbots() {
        // `remove` ignores a pattern isbot does not have: a renamed one would quietly flag its apps again.
        for pattern in HTTP_LIBRARIES {
            let mut without = Bots::default();
            let before = format!("{without:?}");
            without.remove(&[pattern]);
            assert_ne!(format!("{without:?}"), before, "{pattern}");
        }
    }

    #[test]
    fn parses_each_distinct_agent_once() {
        let mut agents = Agents::default();
        let a = agents.of(b"curl/8.5.0");
        let b = agents.of(b"Wget/1.21");
        assert_eq!(agents.of(b"curl/8.5.0"), a);
        assert_ne!(a, b);
        assert!(agents.get(a).bot(false));
    }
}
