use std::hint::black_box;
use std::time::{Duration, Instant};

/// Single-thread `memcpy` bandwidth copying `size`-byte blocks, in GiB/s, measured for about
/// `budget`.
///
/// Large blocks cycle through 64 MiB of source and destination buffers, so sizes beyond the
/// caches measure memory rather than cache bandwidth.
///
/// ```
/// let gib = anyipc::bench::floor::memcpy_gib_per_sec(4096, std::time::Duration::from_millis(10));
/// assert!(gib > 0.0);
/// ```
pub fn memcpy_gib_per_sec(size: usize, budget: Duration) -> f64 {
    let size = size.max(1);
    let blocks = ((64 << 20) / size).clamp(1, 1024);
    let src = vec![0x5Au8; size * blocks];
    // Written, not zeroed: a zeroed allocation is mapped lazily, and its page faults would be
    // measured instead of the copy.
    let mut dst = vec![0xA5u8; size * blocks];
    dst.copy_from_slice(&src);
    let mut copied = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        // Check the clock every ~1 MiB, or every 64 blocks for small ones.
        for _ in 0..((1 << 20) / size).max(64) {
            let i = (copied as usize) % blocks;
            let range = i * size..(i + 1) * size;
            dst[range.clone()].copy_from_slice(black_box(&src[range]));
            black_box(&mut dst);
            copied += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    copied as f64 * size as f64 / secs / (1u64 << 30) as f64
}
