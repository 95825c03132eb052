use super::{parse_child_fds, ParentPipes};

#[test]
fn parses_fds_and_stdio() {
    assert_eq!(
        parse_child_fds("42:3,4"),
        Some((42, ParentPipes::Fds(3, 4)))
    );
    assert_eq!(parse_child_fds("42:stdio"), Some((42, ParentPipes::Stdio)));
}

#[test]
fn rejects_malformed_values() {
    for bad in [
        "",
        "3,4",
        "x:3,4",
        "42:3",
        "42:3,3",
        "42:3,four",
        "42:-",
        "42:stdin",
    ] {
        assert_eq!(parse_child_fds(bad), None, "{bad:?}");
    }
}
