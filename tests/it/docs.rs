//! The README's option table is the code's table: this test fails when they differ.
//! Run with `ANYIPC_BLESS=1` to rewrite the README from the code.

const START: &str = "<!-- option-table:start -->\n";
const END: &str = "<!-- option-table:end -->";

#[test]
fn readme_option_table_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("read README.md");
    let start = readme
        .find(START)
        .expect("README has the option-table start marker")
        + START.len();
    let end = readme
        .find(END)
        .expect("README has the option-table end marker");
    let generated = anyipc::endpoint::option_table_markdown();
    if readme[start..end] == generated {
        return;
    }
    if std::env::var_os("ANYIPC_BLESS").is_some() {
        let updated = format!("{}{}{}", &readme[..start], generated, &readme[end..]);
        std::fs::write(path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README.md's option table differs from the code's; rerun with ANYIPC_BLESS=1 to update it:\n{generated}"
    );
}
