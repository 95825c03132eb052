//! Property tests of the endpoint grammar: every valid endpoint of every scheme survives
//! `parse(display(e)) == e`, and no input makes the parser panic.

use super::option_spec::{self, OptionValue, ValueKind};
use super::{Address, Endpoint, Scheme};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

const NAME: &str = "[A-Za-z0-9_][A-Za-z0-9._-]{0,63}";

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(|ip| ip.to_string()),
        any::<Ipv6Addr>().prop_map(|ip| ip.to_string()),
        "[A-Za-z0-9_-][A-Za-z0-9._-]{0,30}",
        Just("localhost".to_owned()),
        Just("::".to_owned()),
        // A zone (RFC 4007 `%zone`): an interface name, maybe with what a URL escapes, or
        // an index.
        (
            any::<Ipv6Addr>(),
            prop_oneof!["[a-z0-9%:\\[\\]/?#@\u{e9}.~_-]{1,15}", "[0-9]{1,9}"],
        )
            // Index 0 names no interface: refused when parsed.
            .prop_filter("zone index 0", |(_, zone)| !zone.bytes().all(|b| b == b'0'))
            .prop_map(|(ip, zone)| format!("{ip}%{zone}")),
    ]
}

/// Paths with what a URL finds awkward: spaces, `%`, `?`, `#`, `&`, `=`, `@`, unicode,
/// control characters (but NUL, which no path holds: refused).
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-z/ %?#&=@:.\u{e9}\u{4e16}\u{1f600}-]{0,40}",
        "[@%?/ a-z\u{7f}\u{1}-\u{1f}]{1,20}",
        any::<String>().prop_filter("a path is not empty and holds no NUL", |s| {
            !s.is_empty() && !s.contains('\0')
        }),
    ]
}

/// 1 to 107 bytes, whatever they are.
fn abstract_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 %?#@.-]{1,107}",
        any::<String>().prop_filter("1..=107 bytes", |s| (1..=107).contains(&s.len())),
        " {1,107}",
    ]
}

fn address(scheme: Scheme) -> BoxedStrategy<Address> {
    match scheme {
        Scheme::Tcp | Scheme::Udp => (host(), any::<u16>())
            .prop_map(|(host, port)| Address::HostPort { host, port })
            .boxed(),
        Scheme::Unix => prop_oneof![
            path().prop_map(|p| Address::Path(PathBuf::from(p))),
            abstract_name().prop_map(Address::Abstract),
        ]
        .boxed(),
        Scheme::Fifo | Scheme::File => path().prop_map(|p| Address::Path(PathBuf::from(p))).boxed(),
        Scheme::Pipe | Scheme::Shm | Scheme::Mq | Scheme::Mem => {
            NAME.prop_map(Address::Name).boxed()
        }
        Scheme::Stdio => Just(Address::None).boxed(),
    }
}

fn value(kind: ValueKind) -> BoxedStrategy<OptionValue> {
    match kind {
        ValueKind::Size { min, max } => (min..=max).prop_map(OptionValue::Size).boxed(),
        ValueKind::Duration => prop_oneof![any::<u64>(), (0..1_000_000u64).prop_map(|s| s * 1000),]
            .prop_map(|ms| OptionValue::Duration(Duration::from_millis(ms)))
            .boxed(),
        ValueKind::Timeout => prop_oneof![1..=u64::MAX, (1..1_000_000u64).prop_map(|s| s * 1000),]
            .prop_map(|ms| OptionValue::Duration(Duration::from_millis(ms)))
            .boxed(),
        ValueKind::Bool => any::<bool>().prop_map(OptionValue::Bool).boxed(),
        ValueKind::Choice(words) => proptest::sample::select(words)
            .prop_map(OptionValue::Choice)
            .boxed(),
        ValueKind::Mode => (0..=0o777u32).prop_map(OptionValue::Mode).boxed(),
        ValueKind::Uint { min, max } | ValueKind::Count { min, max, .. } => {
            (min..=max).prop_map(OptionValue::Uint).boxed()
        }
        ValueKind::UidList => proptest::collection::vec(any::<u32>(), 1..5)
            .prop_map(OptionValue::UidList)
            .boxed(),
        ValueKind::Name => NAME.prop_map(OptionValue::Name).boxed(),
    }
}

fn options(scheme: Scheme) -> BoxedStrategy<BTreeMap<&'static str, OptionValue>> {
    let specs: Vec<_> = option_spec::OPTIONS
        .iter()
        .filter(|spec| spec.schemes.contains(&scheme))
        .collect();
    let each: Vec<_> = specs
        .into_iter()
        .map(|spec| {
            let value = match (spec.key, scheme) {
                // Sizes no message can meet are refused (`Endpoint::check_max_frame`).
                ("max_frame", Scheme::Udp) => (1..=super::MAX_UDP_PAYLOAD as u64)
                    .prop_map(OptionValue::Size)
                    .boxed(),
                ("max_frame", _) => (1..=u64::MAX).prop_map(OptionValue::Size).boxed(),
                _ => value(spec.kind),
            };
            proptest::option::of(value.prop_map(move |v| (spec.key, v)))
        })
        .collect();
    each.prop_map(|pairs| pairs.into_iter().flatten().collect())
        .boxed()
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    proptest::sample::select(Scheme::ALL.to_vec()).prop_flat_map(|scheme| {
        (address(scheme), options(scheme)).prop_map(move |(address, mut options)| {
            // An abstract name has no file to give a mode (refused when parsed).
            if matches!(address, Address::Abstract(_)) {
                options.remove("mode");
            }
            // A FIFO's owner must read and write it (refused when parsed otherwise).
            if let (Scheme::Fifo, Some(OptionValue::Mode(mode))) = (scheme, options.get("mode")) {
                options.insert("mode", OptionValue::Mode(mode | 0o600));
            }
            // A plain file keeps no cursor (refused when parsed).
            if scheme == Scheme::File && options.contains_key("framing") {
                options.remove("consumer");
            }
            Endpoint {
                scheme,
                address,
                options,
            }
        })
    })
}

/// URL-shaped text: a known scheme, then anything, then options with plausible values.
fn url_like() -> impl Strategy<Value = String> {
    let scheme =
        proptest::sample::select(Scheme::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let key = proptest::sample::select(
        option_spec::OPTIONS
            .iter()
            .map(|s| s.key)
            .collect::<Vec<_>>(),
    );
    let value = prop_oneof![
        "[0-9]{1,22}(k|K|KiB|mib|MB|g|b|ms|s|m|h)?",
        "(true|false|yes|no|on|off|1|0|lines|raw|length|always|0o755|0600|start|end)",
        "[0-9,]{0,12}",
        ".{0,8}",
    ];
    let query = proptest::collection::vec((key, value), 0..4).prop_map(|kv| {
        kv.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    (scheme, ".{0,30}", query).prop_map(|(scheme, rest, query)| {
        if query.is_empty() {
            format!("{scheme}://{rest}")
        } else {
            format!("{scheme}://{rest}?{query}")
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn display_then_parse_is_identity(e in endpoint()) {
        let text = e.to_string();
        let back = Endpoint::parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&e), "via {:?}", text);
    }

    #[test]
    fn parser_never_panics(text in any::<String>()) {
        if let Ok(e) = Endpoint::parse(&text) {
            prop_assert_eq!(Endpoint::parse(&e.to_string()), Ok(e));
        }
    }

    #[test]
    fn url_like_text_parses_to_a_fixed_point(text in url_like()) {
        // Any spelling the parser accepts displays canonically, and the canonical form
        // parses back to the same endpoint.
        if let Ok(e) = Endpoint::parse(&text) {
            let canonical = e.to_string();
            let back = Endpoint::parse(&canonical);
            prop_assert_eq!(back.as_ref(), Ok(&e), "{:?} -> {:?}", text, canonical);
            prop_assert_eq!(back.unwrap().to_string(), canonical);
        }
    }
}

/// The schemes whose address is a path.
fn path_scheme() -> impl Strategy<Value = Scheme> {
    proptest::sample::select(vec![Scheme::Unix, Scheme::Fifo, Scheme::File])
}

/// Paths as a program has them, built from components: each may hold what a URL misreads
/// (`%`, `%41`, `?`, `#`, `&`, `=`, spaces, a leading `@`), unicode, control characters (but
/// NUL, which no path holds).
fn fs_path() -> impl Strategy<Value = PathBuf> {
    let component = prop_oneof![
        "[a-z0-9 %?#&=@:+.~_-]{1,12}",
        "%[0-9A-Fa-f]{2}[a-z?#]{0,3}",
        "[@?#% ][\u{e9}\u{4e16}\u{1f600}a-z]{0,6}",
        "[\u{1}-\u{1f}\u{7f}\u{85}a ]{1,4}",
        any::<String>().prop_filter("not empty, no separator, no NUL", |s| {
            !s.is_empty() && !s.contains(['/', '\0'])
        }),
    ];
    (
        any::<bool>(),
        proptest::collection::vec(component, 1..5),
        any::<bool>(),
    )
        .prop_map(|(absolute, parts, trailing_slash)| {
            let mut text = if absolute {
                "/".to_owned()
            } else {
                String::new()
            };
            text.push_str(&parts.join("/"));
            if trailing_slash {
                text.push('/');
            }
            PathBuf::from(text)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// `from_path` keeps the path as it is, byte for byte, and its URL parses back to an
    /// equal endpoint holding the same bytes, with or without options.
    #[test]
    fn from_path_round_trips(scheme in path_scheme(), path in fs_path()) {
        let e = Endpoint::from_path(scheme, &path).unwrap();
        prop_assert_eq!(e.scheme(), scheme);
        prop_assert_eq!(e.path(), Some(path.as_path()));
        prop_assert_eq!(e.path().unwrap().as_os_str(), path.as_os_str());
        let text = e.to_string();
        let back = Endpoint::parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&e), "via {:?}", text);
        let back = back.unwrap();
        prop_assert_eq!(back.path().unwrap().as_os_str(), path.as_os_str());
        let with = e.with_option("max_frame", "4KiB").unwrap();
        let back = Endpoint::parse(&with.to_string()).unwrap();
        prop_assert_eq!(back.path().unwrap().as_os_str(), path.as_os_str());
        prop_assert_eq!(back.max_frame(), 4096);
    }
}

#[test]
fn from_path_spells_what_a_url_misreads() {
    for (path, url) in [
        ("/tmp/50%/log", "file:///tmp/50%25/log"),
        ("/tmp/a?b.sock", "file:///tmp/a%3Fb.sock"),
        ("/tmp/a#b", "file:///tmp/a%23b"),
        ("/tmp/my dir/x", "file:///tmp/my%20dir/x"),
        ("/tmp/%41", "file:///tmp/%2541"),
        ("@name", "file://%40name"),
        ("/tmp/caf\u{e9}/\u{4e16}", "file:///tmp/caf\u{e9}/\u{4e16}"),
        ("relative/x&y=z", "file://relative/x&y=z"),
        // Written plainly, these would be refused as the host form of a file URL.
        ("localhost/x", "file://%6Cocalhost/x"),
        ("LocalHost", "file://%4CocalHost"),
        ("localhost.d/x", "file://localhost.d/x"),
    ] {
        let e = Endpoint::from_path(Scheme::File, path).unwrap();
        assert_eq!(e.to_string(), url, "{path:?}");
        assert_eq!(e.path(), Some(std::path::Path::new(path)));
        // Written by hand, the first two are refused or read as another endpoint.
        assert_eq!(Endpoint::parse(url).unwrap(), e, "{url}");
    }
    assert!(Endpoint::parse("file:///tmp/50%/log").is_err());
    let misread = Endpoint::parse("unix:///tmp/a?b.sock");
    assert!(misread.map_or(true, |e| e.path()
        != Some(std::path::Path::new("/tmp/a?b.sock"))));
    // On unix, a leading `@` is a path, not an abstract name.
    let at = Endpoint::from_path(Scheme::Unix, "@name").unwrap();
    assert_eq!(at.address(), &Address::Path(PathBuf::from("@name")));
    assert_eq!(Endpoint::parse(&at.to_string()).unwrap(), at);
}

/// `file://localhost/tmp/x` is `/tmp/x` to RFC 8089 and would be the relative path
/// `localhost/tmp/x` here: refused, saying what to write instead.
#[test]
fn a_localhost_host_is_refused_with_the_urls_to_write() {
    use super::ParseErrorKind;
    for (url, absolute, relative) in [
        (
            "file://localhost/var/log/app",
            "file:///var/log/app",
            "file://./localhost/var/log/app",
        ),
        (
            "unix://LOCALHOST/run/a.sock?mode=0600",
            "unix:///run/a.sock",
            "unix://./LOCALHOST/run/a.sock",
        ),
        ("fifo://localhost", "fifo:///", "fifo://./localhost"),
    ] {
        let err = Endpoint::parse(url).unwrap_err();
        assert!(
            matches!(err.kind(), ParseErrorKind::InvalidAddress { .. }),
            "{url}: {err}"
        );
        let text = err.to_string();
        assert!(text.contains(absolute) && text.contains(relative), "{text}");
        // What the message says to write is taken.
        let path = Endpoint::parse(relative).unwrap();
        assert!(path.path().unwrap().starts_with("./"), "{relative}");
    }
    for url in [
        "file://localhost.d/x",
        "file://localhostx",
        "file://./localhost/x",
    ] {
        assert!(Endpoint::parse(url).is_ok(), "{url}");
    }
}

#[test]
fn from_path_refuses_what_no_url_holds() {
    use super::ParseErrorKind;
    for scheme in Scheme::ALL {
        let result = Endpoint::from_path(scheme, "/tmp/x");
        match scheme {
            Scheme::Unix | Scheme::Fifo | Scheme::File => assert!(result.is_ok(), "{scheme}"),
            _ => {
                let err = result.unwrap_err();
                assert!(
                    matches!(err.kind(), ParseErrorKind::InvalidAddress { scheme: s, .. } if *s == scheme),
                    "{scheme}: {err}"
                );
                assert!(err.to_string().contains("not a path"), "{err}");
            }
        }
    }
    let err = Endpoint::from_path(Scheme::Unix, "").unwrap_err();
    assert!(
        matches!(err.kind(), ParseErrorKind::InvalidAddress { .. }),
        "{err}"
    );
    // A NUL byte names no file: refused from a path and from a URL, for every path scheme.
    for scheme in [Scheme::Unix, Scheme::Fifo, Scheme::File] {
        let err = Endpoint::from_path(scheme, "/tmp/a\0b").unwrap_err();
        assert!(
            matches!(err.kind(), ParseErrorKind::InvalidAddress { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("NUL"), "{err}");
        let err = Endpoint::parse(&format!("{scheme}:///tmp/a%00b")).unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let raw = std::ffi::OsStr::from_bytes(b"/tmp/\xff\xfe.sock");
        let err = Endpoint::from_path(Scheme::Unix, raw).unwrap_err();
        assert_eq!(
            err.kind(),
            &ParseErrorKind::NonUtf8Path {
                scheme: Scheme::Unix
            }
        );
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        // The parser cannot spell it either: escapes decode to UTF-8 only.
        assert!(Endpoint::parse("unix:///tmp/%FF%FE.sock").is_err());
    }
}

#[test]
fn every_scheme_has_a_round_trip_example() {
    for url in [
        "tcp://127.0.0.1:7000?connect_timeout=2s&max_frame=1MiB&nodelay=false",
        "udp://[::1]:0?recv_timeout=250ms",
        "unix:///run/my%20app/s.sock?allow_uids=0,1000&mode=0660",
        "unix://@abstract%20name",
        "unix://%40not-abstract",
        "pipe://orders?framing=lines",
        "fifo:///tmp/a%3Fb?framing=raw",
        "stdio://",
        "shm://orders?busy_poll=true&capacity=4MiB",
        "mq://jobs?create=true&max_message_len=8KiB&priority=31",
        "mem://x.y_z-1?capacity=1",
        "file:///var/log/app%23.log?consumer=reader-1&from=end&fsync=always",
    ] {
        let e = Endpoint::parse(url).unwrap_or_else(|err| panic!("{url}: {err}"));
        assert_eq!(e.to_string(), url);
    }
    // Other spellings (and option orders) are accepted and displayed canonically.
    for (given, canonical) in [
        ("tcp://h:1?max_frame=1048576", "tcp://h:1?max_frame=1MiB"),
        ("tcp://h:1?nodelay=off", "tcp://h:1?nodelay=false"),
        (
            "tcp://h:1?connect_timeout=2000ms",
            "tcp://h:1?connect_timeout=2s",
        ),
        ("unix:///a?mode=0o600", "unix:///a?mode=0600"),
        ("mem://m?capacity=02048", "mem://m?capacity=2048"),
        ("unix:///a b", "unix:///a%20b"),
        ("tcp://h:1?", "tcp://h:1"),
        (
            "unix:///a?mode=0600&allow_uids=1",
            "unix:///a?allow_uids=1&mode=0600",
        ),
    ] {
        assert_eq!(
            Endpoint::parse(given).unwrap().to_string(),
            canonical,
            "{given}"
        );
    }
}

#[test]
fn abstract_name_limit_counts_decoded_bytes() {
    let longest = "x".repeat(107);
    assert!(Endpoint::parse(&format!("unix://@{longest}")).is_ok());
    assert!(Endpoint::parse(&format!("unix://@{longest}x")).is_err());
    // 107 spaces are 321 bytes of URL but a 107-byte name.
    let spaces = "%20".repeat(107);
    assert!(Endpoint::parse(&format!("unix://@{spaces}")).is_ok());
    assert!(Endpoint::parse(&format!("unix://@{spaces}%20")).is_err());
    assert!(Endpoint::parse("unix://@").is_err());
}

#[test]
fn numbers_and_escapes_take_digits_only() {
    // Rust's integer parsing takes a leading `+`; the URL grammar does not.
    for url in [
        "unix:///a%+1b",
        "unix:///a%-1b",
        "unix:///a% 1b",
        "mq://jobs?priority=+5",
        "unix:///a?mode=+644",
        "unix:///a?mode=0o+644",
        "tcp://h:1?max_frame=+1",
    ] {
        assert!(Endpoint::parse(url).is_err(), "{url} was accepted");
    }
    assert!(Endpoint::parse("unix:///a%2Bb").is_ok());
    assert!(Endpoint::parse("mq://jobs?priority=5").is_ok());
}

/// Durations take a decimal fraction, as the command line's `--timeout` does, to the
/// millisecond; a bare number is seconds.
#[test]
fn durations_take_a_fraction_to_the_millisecond() {
    let recv_timeout = |text: &str| {
        Endpoint::parse(&format!("tcp://127.0.0.1:7000?recv_timeout={text}"))
            .ok()
            .and_then(|e| e.duration_option("recv_timeout"))
    };
    for (text, millis) in [
        ("1.5s", 1500),
        ("1.5", 1500),
        ("0.25m", 15_000),
        ("1.50s", 1500),
        ("2.5h", 9_000_000),
        ("250ms", 250),
        ("250.0ms", 250),
        ("0.001s", 1),
    ] {
        assert_eq!(
            recv_timeout(text),
            Some(Duration::from_millis(millis)),
            "{text}"
        );
    }
    for text in [
        "1.5ms", "0.0005s", "1.s", ".5s", "1..5s", "1.5.0s", "1,5s", "1.-5s", "1h30m",
    ] {
        assert_eq!(recv_timeout(text), None, "{text}");
    }
}

/// A plain file (`framing=` given) keeps no cursor: `consumer=` with it is refused, in
/// either order, rather than ignored.
#[test]
fn a_consumer_of_a_plain_file_is_refused() {
    use super::ParseErrorKind;
    for url in [
        "file:///tmp/a.txt?framing=lines&consumer=c",
        "file:///tmp/a.txt?consumer=c&framing=raw",
    ] {
        let err = Endpoint::parse(url).expect_err(url);
        assert!(
            matches!(err.kind(), ParseErrorKind::OptionNotApplicable { key, .. } if key == "consumer"),
            "{url}: {err}"
        );
    }
    assert!(Endpoint::parse("file:///tmp/log?consumer=c").is_ok());
    assert!(Endpoint::parse("tcp://127.0.0.1:1?framing=lines").is_ok());
}

/// A timeout of 0 would fail every wait at once, where many read it as "no timeout"
/// (`SO_RCVTIMEO=0`): refused, naming the option and how to ask for no timeout. `idle_timeout`
/// keeps its documented 0 (never).
#[test]
fn a_timeout_of_zero_is_refused() {
    use super::ParseErrorKind;
    for key in ["connect_timeout", "recv_timeout", "send_timeout"] {
        for zero in ["0", "0ms", "0s", "000m"] {
            let url = format!("tcp://127.0.0.1:7000?{key}={zero}");
            let err = Endpoint::parse(&url).expect_err(&url);
            assert!(
                matches!(err.kind(), ParseErrorKind::InvalidOptionValue { key: k, .. } if k == key),
                "{url}: {err}"
            );
            assert!(err.to_string().contains("leave it out"), "{err}");
        }
        let url = format!("tcp://127.0.0.1:7000?{key}=1ms");
        assert!(Endpoint::parse(&url).is_ok(), "{url}");
    }
    assert!(Endpoint::parse("udp://127.0.0.1:7000?idle_timeout=0").is_ok());
}

#[test]
fn a_max_frame_no_message_can_meet_is_refused() {
    use super::ParseErrorKind;
    for url in [
        "tcp://127.0.0.1:7000?max_frame=0",
        "mem://m?max_frame=0",
        "udp://127.0.0.1:7000?max_frame=0",
        "udp://127.0.0.1:7000?max_frame=65508",
        "udp://127.0.0.1:7000?max_frame=1MiB",
    ] {
        let err = Endpoint::parse(url).expect_err(url);
        assert!(
            matches!(err.kind(), ParseErrorKind::InvalidOptionValue { key, .. } if key == "max_frame"),
            "{url}: {err}"
        );
    }
    let err = Endpoint::parse("udp://127.0.0.1:7000?max_frame=100000").unwrap_err();
    assert!(err.to_string().contains("65507"), "{err}");
    assert_eq!(
        Endpoint::parse("udp://h:1?max_frame=65507")
            .unwrap()
            .max_frame(),
        65_507
    );
    assert_eq!(
        Endpoint::parse("tcp://h:1?max_frame=1")
            .unwrap()
            .max_frame(),
        1
    );
    assert_eq!(
        Endpoint::parse("tcp://h:1?max_frame=1GiB")
            .unwrap()
            .max_frame(),
        1 << 30
    );
}

#[test]
fn mq_capacity_is_a_count_of_messages_not_a_size() {
    use super::ParseErrorKind;
    // `anyipc mq create --capacity` takes a count of messages too, and refuses a size.
    for value in ["64KiB", "64k", "1MiB", "2kb", "8b", "0", "1048577", "+5"] {
        let url = format!("mq://demo?capacity={value}");
        let err = Endpoint::parse(&url).expect_err(&url);
        match err.kind() {
            ParseErrorKind::InvalidOptionValue { key, expected, .. } => {
                assert_eq!(key, "capacity", "{err}");
                assert!(
                    expected.contains("a number of messages from 1 to 1048576")
                        && expected.contains("not a size"),
                    "{err}"
                );
            }
            other => panic!("{url}: unexpected {other:?}"),
        }
    }
    // A count is written as given: 1024 messages are not `1KiB`.
    for (url, capacity) in [
        ("mq://demo?capacity=1", 1),
        ("mq://demo?capacity=1024", 1024),
        ("mq://demo?capacity=1048576", 1 << 20),
    ] {
        let e = Endpoint::parse(url).unwrap_or_else(|err| panic!("{url}: {err}"));
        assert_eq!(e.to_string(), url);
        assert_eq!(e.size_option("capacity"), Some(capacity));
    }
    // max_message_len stays a size, and so do the capacities of mem:// and shm://.
    for (url, key, value) in [
        (
            "mq://demo?max_message_len=64KiB",
            "max_message_len",
            64 << 10,
        ),
        ("shm://demo?capacity=64KiB", "capacity", 64 << 10),
        ("mem://demo?capacity=2048", "capacity", 2048),
    ] {
        let e = Endpoint::parse(url).unwrap_or_else(|err| panic!("{url}: {err}"));
        assert_eq!(e.size_option(key), Some(value), "{url}");
    }
}

/// A size the transport would refuse at connect or bind (`InvalidInput` without an
/// `EndpointParseError`, from an endpoint that parsed) is refused by the parser, with the range
/// in the message and in the option table.
#[test]
fn a_size_the_transport_refuses_is_a_parse_error() {
    use super::ParseErrorKind;
    for (url, key, range) in [
        (
            "mq://q?max_message_len=0",
            "max_message_len",
            "from 1 to 64MiB",
        ),
        (
            "mq://q?max_message_len=65MiB",
            "max_message_len",
            "from 1 to 64MiB",
        ),
        (
            "mq://q?max_message_len=100GiB",
            "max_message_len",
            "from 1 to 64MiB",
        ),
        ("shm://s?capacity=2GiB", "capacity", "up to 1GiB"),
        ("shm://s?capacity=1073741825", "capacity", "up to 1GiB"),
    ] {
        let err = Endpoint::parse(url).expect_err(url);
        match err.kind() {
            ParseErrorKind::InvalidOptionValue {
                key: k, expected, ..
            } => {
                assert_eq!(k, key, "{err}");
                assert!(expected.contains(range), "{url}: {err}");
            }
            other => panic!("{url}: unexpected {other:?}"),
        }
    }
    for (url, key, value) in [
        ("mq://q?max_message_len=1", "max_message_len", 1),
        ("mq://q?max_message_len=64MiB", "max_message_len", 64 << 20),
        ("shm://s?capacity=0", "capacity", 0),
        ("shm://s?capacity=1GiB", "capacity", 1 << 30),
    ] {
        let e = Endpoint::parse(url).unwrap_or_else(|err| panic!("{url}: {err}"));
        assert_eq!(e.size_option(key), Some(value), "{url}");
    }
    assert_eq!(
        u64::from(crate::queue::MAX_MESSAGE_LEN),
        64 << 20,
        "the option table's bound"
    );
    #[cfg(target_os = "linux")]
    assert_eq!(
        u64::from(crate::shm::MAX_RING_CAPACITY),
        1 << 30,
        "the option table's bound"
    );
}

#[test]
fn a_key_has_at_most_one_row_per_scheme() {
    for scheme in Scheme::ALL {
        let mut keys = option_spec::keys_for(scheme);
        let listed = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), listed, "{scheme}: a key listed twice");
    }
}

/// What follows a bad message, per transport: the table of `Endpoint::drops_bad_message`.
#[test]
fn drops_bad_message_follows_each_transport() {
    use crate::codec::{FormatError, FrameError};
    use std::io;
    let too_long = |len: u64| io::Error::from(FrameError::TooLarge { len, max: 8 });
    let corrupt = io::Error::new(io::ErrorKind::InvalidData, "a damaged record");
    let undecodable = io::Error::new(
        io::ErrorKind::InvalidData,
        FormatError::new("json", io::Error::other("expected value")),
    );
    let timed_out = io::Error::new(io::ErrorKind::TimedOut, "no message for 1s");
    let drops = |url: &str, err: &io::Error| Endpoint::parse(url).unwrap().drops_bad_message(err);
    for url in [
        "udp://127.0.0.1:7000",
        "mem://m",
        "tcp://127.0.0.1:7000?framing=lines",
        "file:///tmp/plain.txt?framing=lines",
    ] {
        assert!(drops(url, &too_long(100)), "{url}");
        assert!(
            !drops(url, &timed_out),
            "{url}: a timeout is no bad message"
        );
    }
    for url in ["udp://127.0.0.1:7000", "mem://m"] {
        assert!(drops(url, &corrupt), "{url}");
    }
    for url in [
        "tcp://127.0.0.1:7000",
        "unix:///tmp/a.sock",
        "pipe://p",
        "shm://s",
        "mq://q",
        "file:///tmp/log",
        "tcp://127.0.0.1:7000?framing=lines",
    ] {
        assert!(!drops(url, &corrupt), "{url}: corrupt data");
    }
    for url in [
        "tcp://127.0.0.1:7000",
        "shm://s",
        "mq://q",
        "file:///tmp/log",
    ] {
        assert!(!drops(url, &too_long(100)), "{url}");
    }
    // Any transport: a whole message that does not deserialize (typed connections).
    for url in ["tcp://127.0.0.1:7000", "mq://q", "file:///tmp/log"] {
        assert!(drops(url, &undecodable), "{url}");
    }
    // A FIFO reader drops a frame a writer could send (one atomic write), not a longer one.
    #[cfg(unix)]
    {
        let largest = (crate::fifo::MAX_ATOMIC_FRAME - crate::codec::LENGTH_HEADER) as u64;
        assert!(drops("fifo:///tmp/f", &too_long(largest)));
        assert!(!drops("fifo:///tmp/f", &too_long(largest + 1)));
        assert!(!drops("fifo:///tmp/f", &corrupt));
    }
}

/// `mode=` sets a socket file's permissions, and an abstract name has none: the URL is
/// refused when it is parsed (whatever the order, and through `with_option`), so connect
/// and bind refuse it alike, as a bad URL.
#[test]
fn an_abstract_unix_name_refuses_mode() {
    use super::ParseErrorKind;
    for url in ["unix://@x?mode=0600", "unix://@x?allow_uids=1&mode=0700"] {
        let err = Endpoint::parse(url).unwrap_err();
        assert!(
            matches!(err.kind(), ParseErrorKind::OptionNotApplicable { key, .. } if key == "mode"),
            "{url}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("mode") && text.contains("allow_uids="),
            "{text}"
        );
        assert_eq!(err.input(), url);
    }
    let err = Endpoint::parse("unix://@x")
        .unwrap()
        .with_option("mode", "0600")
        .unwrap_err();
    assert!(
        matches!(err.kind(), ParseErrorKind::OptionNotApplicable { .. }),
        "{err:?}"
    );
    // A path takes it, and so does a path that starts with `@`.
    assert!(Endpoint::parse("unix:///tmp/x.sock?mode=0600").is_ok());
    let at = Endpoint::from_path(Scheme::Unix, "@x").unwrap();
    assert!(at.with_option("mode", "0600").is_ok());
}

/// IPv6 zones (RFC 6874): `%25` then an interface name or index, kept in the host as RFC
/// 4007's `fe80::1%eth0`, and written back with `%25`.
#[test]
fn ipv6_hosts_take_a_zone() {
    use super::ParseErrorKind;
    for (url, host, canonical) in [
        (
            "tcp://[fe80::1%25lo]:80",
            "fe80::1%lo",
            "tcp://[fe80::1%25lo]:80",
        ),
        (
            "udp://[fe80::1%251]:80",
            "fe80::1%1",
            "udp://[fe80::1%251]:80",
        ),
        (
            "tcp://[::1%25eth0.2]:0",
            "::1%eth0.2",
            "tcp://[::1%25eth0.2]:0",
        ),
        (
            "tcp://[fe80::1%25a%3Ab]:7",
            "fe80::1%a:b",
            "tcp://[fe80::1%25a%3Ab]:7",
        ),
        (
            "tcp://[fe80::1%25a:b]:7",
            "fe80::1%a:b",
            "tcp://[fe80::1%25a%3Ab]:7",
        ),
    ] {
        let e = Endpoint::parse(url).unwrap();
        let Address::HostPort { host: h, .. } = e.address() else {
            panic!("{url}: {e:?}");
        };
        assert_eq!(h, host, "{url}");
        assert_eq!(e.to_string(), canonical, "{url}");
        assert_eq!(Endpoint::parse(canonical).unwrap(), e, "{url}");
    }
    for (url, needle) in [
        ("tcp://[fe80::1%lo]:80", "%25"),
        ("tcp://[fe80::1%25]:80", "empty"),
        ("tcp://[fe80::1%25%20x]:80", "space"),
        ("tcp://[fe80::1%2599999999999]:80", "too large"),
        ("tcp://[fe80::1%250]:80", "index 0 names no interface"),
        ("udp://[fe80::1%25000]:80", "index 0 names no interface"),
        ("tcp://[fe80::zz%25lo]:80", "not an IPv6 address"),
        ("tcp://127.0.0.1%25lo:80", "not a host name"),
        ("tcp://[fe80::1%25%zz]:80", "escape"),
    ] {
        let err = Endpoint::parse(url).unwrap_err();
        assert!(
            matches!(err.kind(), ParseErrorKind::InvalidAddress { .. }),
            "{url}: {err:?}"
        );
        assert!(err.to_string().contains(needle), "{url}: {err}");
    }
}
