//! Issue 16, finding 3: trace and video files are streamed with bounded lines and sizes. Each test
//! feeds a huge input (generated on the fly, or a sparse file) and asserts on the bytes pulled from
//! it and on the peak of heap memory allocated while loading, counted by this binary's allocator;
//! error messages must stay short whatever the input.

use neuralstream_data::{
    load_trace, load_video, read_trace, TraceFormat, MAX_INPUT_FILE_BYTES, MAX_LINE_BYTES,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counts live heap bytes and their peak since the last [`reset_peak`].
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Tests share the counters: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the peak heap bytes allocated above what was live before.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst) - base)
}

/// Generates `len` bytes by repeating `pattern`, never holding more than the pattern; counts what
/// was read.
struct Generated<'a> {
    pattern: &'a [u8],
    pos: usize,
    left: u64,
    read: &'a AtomicUsize,
}

impl Read for Generated<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            buf[n] = self.pattern[self.pos];
            self.pos = (self.pos + 1) % self.pattern.len();
            self.left -= 1;
            n += 1;
        }
        self.read.fetch_add(n, Ordering::SeqCst);
        Ok(n)
    }
}

/// Heap a bounded read may use: a few line buffers and the reader's own buffer, far below the input.
const SMALL_HEAP_BYTES: usize = 64 << 10;

#[test]
fn a_1_gb_line_is_refused_after_one_line_window_with_a_short_message() {
    let _serial = SERIAL.lock().unwrap();
    for format in [
        TraceFormat::Auto,
        TraceFormat::Cooked,
        TraceFormat::Mahimahi,
    ] {
        for pattern in [&b"x"[..], b"1", b"0 1 "] {
            let read = AtomicUsize::new(0);
            let input = BufReader::new(Generated {
                pattern,
                pos: 0,
                left: 1 << 30,
                read: &read,
            });
            let (result, peak) = peak_during(|| read_trace(Path::new("huge.txt"), input, format));
            let e = result.unwrap_err().to_string();
            assert!(e.starts_with("huge.txt:1: the line is longer than"), "{e}");
            assert!(e.len() < 300, "{} bytes: {e}", e.len());
            let pulled = read.load(Ordering::SeqCst);
            assert!(pulled <= MAX_LINE_BYTES + 1 + 8192, "read {pulled} bytes");
            assert!(peak < SMALL_HEAP_BYTES, "peak heap {peak} bytes");
        }
    }
}

#[test]
fn an_endless_stream_of_lines_stops_at_the_file_limit() {
    let _serial = SERIAL.lock().unwrap();
    // Comment lines just under the line limit, then forever more: nothing is kept, so only the
    // byte limit stops it.
    let mut pattern = vec![b'#'; MAX_LINE_BYTES];
    pattern.push(b'\n');
    let read = AtomicUsize::new(0);
    let input = BufReader::new(Generated {
        pattern: &pattern,
        pos: 0,
        left: u64::MAX,
        read: &read,
    });
    let (result, peak) = peak_during(|| read_trace(Path::new("endless"), input, TraceFormat::Auto));
    let e = result.unwrap_err().to_string();
    assert!(
        e.starts_with("endless: the file is larger than 64 MiB"),
        "{e}"
    );
    let pulled = read.load(Ordering::SeqCst) as u64;
    assert!(
        pulled <= MAX_INPUT_FILE_BYTES + MAX_LINE_BYTES as u64 + 1 + 8192,
        "read {pulled} bytes"
    );
    assert!(peak < SMALL_HEAP_BYTES, "peak heap {peak} bytes");
}

#[test]
fn a_mahimahi_trace_of_many_lines_uses_memory_for_its_duration_only() {
    let _serial = SERIAL.lock().unwrap();
    // Ten million packets in the same millisecond (20 MB of text): one window is kept.
    let read = AtomicUsize::new(0);
    let input = BufReader::new(Generated {
        pattern: b"7\n",
        pos: 0,
        left: 20_000_000,
        read: &read,
    });
    let (trace, peak) = peak_during(|| read_trace(Path::new("mm"), input, TraceFormat::Auto));
    let trace = trace.unwrap();
    assert_eq!(trace.len(), 2);
    assert_eq!(read.load(Ordering::SeqCst), 20_000_000);
    assert!(peak < SMALL_HEAP_BYTES, "peak heap {peak} bytes");
}

#[test]
fn a_1_gb_file_is_refused_before_it_is_read() {
    let _serial = SERIAL.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Sparse: no disk space, and reading it would take a second per GB; refusal must not read it.
    let big = dir.path().join("big.txt");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (result, peak) = peak_during(|| load_trace(&big, TraceFormat::Auto));
    let e = result.unwrap_err().to_string();
    assert!(e.contains("big.txt: the file is larger than 64 MiB"), "{e}");
    assert!(peak < SMALL_HEAP_BYTES, "peak heap {peak} bytes");
    // The same for a video descriptor and a Pensieve level file.
    let json = dir.path().join("video.json");
    std::fs::rename(&big, &json).unwrap();
    let (result, peak) = peak_during(|| load_video(&json));
    let e = result.unwrap_err().to_string();
    assert!(
        e.contains("video.json: the file is larger than 64 MiB"),
        "{e}"
    );
    assert!(peak < SMALL_HEAP_BYTES, "peak heap {peak} bytes");
    std::fs::remove_file(&json).unwrap();
    std::fs::File::create(dir.path().join("video_size_0"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (result, peak) = peak_during(|| load_video(dir.path()));
    let e = result.unwrap_err().to_string();
    assert!(
        e.contains("video_size_0: the file is larger than 64 MiB"),
        "{e}"
    );
    assert!(peak < SMALL_HEAP_BYTES, "peak heap {peak} bytes");
}

#[test]
fn long_values_are_quoted_as_short_excerpts() {
    let _serial = SERIAL.lock().unwrap();
    let long = "9".repeat(MAX_LINE_BYTES - 10);
    let cases = [
        (format!("0 1\n1 {long}x\n"), TraceFormat::Auto),
        (format!("0 1\n1 2 {long}\n"), TraceFormat::Auto),
        (format!("{long}x\n"), TraceFormat::Mahimahi),
        (format!("{long},1\n"), TraceFormat::Auto),
        (format!("0 1\n{long}\n"), TraceFormat::Cooked),
    ];
    for (text, format) in cases {
        let e = neuralstream_data::traces::parse_trace(Path::new("t"), &text, format)
            .unwrap_err()
            .to_string();
        assert!(e.len() < 400, "{} bytes: {e}", e.len());
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("video_size_0"), format!("{long}x\n")).unwrap();
    let e = load_video(dir.path()).unwrap_err().to_string();
    assert!(e.contains("video_size_0:1: '999") && e.len() < 400, "{e}");
    // JSON: an unknown key of 1 MB, a long format string, a long name.
    let key = "k".repeat(1 << 20);
    for json in [
        format!("{{\"format\": \"neuralstream-video\", \"{key}\": 1}}"),
        format!("{{\"format\": \"{key}\", \"version\": 1, \"name\": \"a\", \"chunk_duration_s\": 4, \"ladder\": [], \"chunk_bytes\": []}}"),
        format!("{{\"format\": \"neuralstream-video\", \"version\": 1, \"name\": \"{key}\", \"chunk_duration_s\": 4, \"ladder\": [], \"chunk_bytes\": []}}"),
    ] {
        let e = neuralstream_data::descriptor::parse_descriptor(Path::new("v.json"), &json)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("v.json"), "{e}");
        assert!(e.len() < 800, "{} bytes: {}", e.len(), &e[..800]);
    }
}
