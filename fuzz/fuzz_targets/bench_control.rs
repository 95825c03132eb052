//! Fuzzes the bench protocol's control message parser (`Workload::parse_control`), which
//! reads the first message a peer receives: a workload or `InvalidData`, never a panic;
//! a parsed workload is valid and its control message parses back to it.
#![no_main]

use anyipc::bench::Workload;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match Workload::parse_control(data) {
        Ok(workload) => {
            assert!(
                workload.size() >= 1 && workload.batch() >= 1,
                "{workload:?}"
            );
            let control = workload.control_message();
            assert_eq!(Workload::parse_control(&control).ok(), Some(workload));
            let _ = workload.to_string();
        }
        Err(err) => {
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
        }
    }
});
