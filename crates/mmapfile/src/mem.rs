//! The one door to mapped memory.
//!
//! Every read and write of mapped bytes that the crate itself performs goes through
//! [`DynMmap::load`] and [`DynMmap::store`], which take an already bounds-checked range.
//! Keeping the door this small is what lets the fault guard (`guard.rs`) watch all of the
//! crate's accesses without touching the public API: each access checks the map's "gone"
//! mark before (so a region known to have vanished errors out at once instead of reading the
//! zero pages the guard put there) and after (so a fault taken during the access, by this
//! thread or another, turns into an error). That is one relaxed atomic load on each side.

use std::io;
use std::ops::Range;
use std::sync::atomic::{compiler_fence, fence, Ordering};

use crate::error::Truncated;
use crate::guard::Watch;
use crate::kind::{Kind, Readable};
use crate::Map;

impl<K: Readable> Map<K> {
    /// Runs `f` over the bytes in `range`, which the caller has checked against `len()`.
    /// An error if any byte of `range` belongs to a part of the file that has vanished.
    pub(crate) fn load<R>(&self, range: Range<usize>, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        debug_assert!(range.start <= range.end && range.end <= self.len());
        let watch = self.watch();
        if touches_gone(&range, watch.gone_from()) {
            return Err(self.vanished(&range));
        }
        let out = f(&self.as_slice()[range.clone()]);
        // Keep the check after every read `f` made: a thread that read a zero page another
        // thread mapped in must see the mark, which the handler sets before mapping it.
        fence(Ordering::Acquire);
        if touches_gone(&range, watch.gone_from()) {
            return Err(self.vanished(&range));
        }
        Ok(out)
    }

    /// [`load`](Self::load) for code that trusts what it read a moment ago: a regex engine,
    /// a parser. Bytes that change under it break that trust mid-call: regex-automata, for
    /// one, asserts that a match found forwards is found again backwards, and panics when a
    /// truncation zeroed the bytes in between. So a panic out of `f` is caught and becomes
    /// an error: the truncation error if the guard saw bytes of `range` vanish or the file is
    /// now shorter than `range`, else an error saying the file changed while mapped. The
    /// panic's message is kept off stderr. (Built with `panic = "abort"`, a panic aborts.)
    pub(crate) fn load_foreign<R>(
        &self,
        range: Range<usize>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> io::Result<R> {
        debug_assert!(range.start <= range.end && range.end <= self.len());
        let watch = self.watch();
        if touches_gone(&range, watch.gone_from()) {
            return Err(self.vanished(&range));
        }
        let outcome = {
            let _scan = quiet_panics::Scan::enter();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f(&self.as_slice()[range.clone()])
            }))
        };
        fence(Ordering::Acquire);
        if touches_gone(&range, watch.gone_from()) {
            return Err(self.vanished(&range));
        }
        match outcome {
            Ok(out) => Ok(out),
            Err(payload) => {
                if self.shorter_than(&range) {
                    return Err(self.vanished(&range));
                }
                let detail = payload
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(io::Error::other(format!(
                    "the file changed while mapped (truncated and extended again, or \
                     rewritten) during a scan of bytes {}..{}: {detail}",
                    range.start, range.end
                )))
            }
        }
    }

    /// Whether the file now ends before `range` does (only for maps that keep their
    /// descriptor; an `fstat`, so not for hot paths).
    fn shorter_than(&self, range: &Range<usize>) -> bool {
        self.watch().is_regular_file()
            && self
                .file_covers()
                .is_some_and(|covered| (range.end as u64) > covered)
    }

    /// Runs `f` over the bytes in `range` mutably; the caller has checked the range and that
    /// the map is writable. Writes that land in a vanished region are reported, never
    /// silently accepted (bytes below the new end of the file may have been written).
    pub(crate) fn store<R>(
        &mut self,
        range: Range<usize>,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> io::Result<R> {
        debug_assert!(range.start <= range.end && range.end <= self.len());
        debug_assert!(self.access().is_writable());
        if touches_gone(&range, self.watch().gone_from()) {
            return Err(self.vanished(&range));
        }
        // SAFETY: the map is writable (checked by every caller), so the pages are mapped
        // with PROT_WRITE, and `&mut self` excludes every other borrow of the bytes.
        let bytes = unsafe { self.bytes_mut_unchecked() };
        let out = f(&mut bytes[range.clone()]);
        // The check after the stores needs only to stay after them in this thread's program
        // order, not a full (StoreLoad) fence. A store that faults runs the guard's handler
        // on this thread, which sets the mark before the store is retried: in program order
        // before the check, which a compiler fence keeps after the stores. A mark set by
        // another thread's fault at the same moment may be missed; the store then counts as
        // made just before the truncation, whose bytes it shared the fate of (no map can
        // report such a store; no reader can tell the two apart), and later accesses see the
        // mark once it reaches this thread (relaxed loads: soon, not at a defined moment).
        compiler_fence(Ordering::SeqCst);
        if touches_gone(&range, self.watch().gone_from()) {
            return Err(self.vanished(&range));
        }
        Ok(out)
    }
}

impl<K: Kind> Map<K> {
    /// Checks, without touching the memory, that `range` still has file behind it: the
    /// guard's mark, then the file's current size when the map keeps its descriptor.
    /// `flush` calls it, since msync of vanished pages reports nothing.
    pub(crate) fn check_intact_range(&self, range: Range<usize>) -> io::Result<()> {
        if touches_gone(&range, self.watch().gone_from()) {
            return Err(self.vanished(&range));
        }
        if range.is_empty() || !self.watch().is_regular_file() {
            return Ok(());
        }
        if let Some(covered) = self.file_covers() {
            if (range.end as u64) > covered {
                return Err(self.vanished(&range));
            }
        }
        Ok(())
    }

    fn watch(&self) -> &Watch {
        &self.watch
    }

    /// How many bytes of the map the file covers now, if the map keeps its descriptor.
    fn file_covers(&self) -> Option<u64> {
        let size = self.size().ok()?;
        Some(size.saturating_sub(self.offset()))
    }

    /// The error for an access to `range` that touched vanished bytes. Also lowers the
    /// guard's mark to the file's current end, so the tail of the last page (which reads as
    /// zeros without faulting) is refused from now on too.
    #[cold]
    #[inline(never)]
    pub(crate) fn vanished(&self, range: &Range<usize>) -> io::Error {
        let watch = self.watch();
        let covered = if watch.is_regular_file() {
            self.file_covers()
        } else {
            None
        };
        if let Some(covered) = covered.filter(|&covered| covered < self.len() as u64) {
            watch.note_gone(covered as usize);
        }
        let gone = watch.gone_from().min(self.len());
        let access = format!("access to bytes {}..{}", range.start, range.end);
        match covered {
            Some(covered) if covered < self.len() as u64 => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                Truncated::new(
                    gone,
                    Some(covered),
                    format!(
                        "the file was truncated while mapped: it now ends {covered} bytes \
                         into the {}-byte map, and the map's bytes from offset {gone} on are \
                         gone ({access})",
                        self.len()
                    ),
                ),
            ),
            Some(_) => io::Error::other(format!(
                "a page of the mapped file could not be read at map offset {gone} (an I/O \
                 error, or the file was truncated while mapped and has grown back) ({access})"
            )),
            None => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                Truncated::new(
                    gone,
                    None,
                    format!(
                        "the file was truncated while mapped: the map's bytes from offset \
                         {gone} on are gone ({access})"
                    ),
                ),
            ),
        }
    }
}

/// Whether a non-empty `range` reaches the vanished region that starts at `gone`.
#[inline]
fn touches_gone(range: &Range<usize>, gone: usize) -> bool {
    range.end > gone && range.start < range.end
}

/// Keeps the panic message of a scan that the guard explains off stderr: the panic becomes
/// the truncation error, so the message would only alarm. A panic hook that wraps the one
/// in place is installed once, with the first foreign scan (not from a panicking thread);
/// it stays silent for every panic raised while this thread is inside a foreign scan (one the
/// guard explains or not: it cannot tell yet; the error then carries the message), and
/// otherwise calls the previous hook. (A hook installed later replaces it: the message is
/// printed then, and the error is returned all the same.)
mod quiet_panics {
    use std::cell::Cell;
    use std::sync::Once;

    thread_local! {
        /// How many scans of `load_foreign` this thread is inside.
        static DEPTH: Cell<usize> = const { Cell::new(0) };
    }

    static HOOK: Once = Once::new();

    /// Marks this thread as inside a scan until dropped.
    pub(super) struct Scan;

    impl Scan {
        pub(super) fn enter() -> Self {
            // std refuses (with a panic, which aborts here) to change the hook from a
            // panicking thread: a scan run by a destructor during unwinding leaves the hook
            // alone, and a later scan installs it.
            if !std::thread::panicking() {
                HOOK.call_once(install_hook);
            }
            DEPTH.with(|depth| depth.set(depth.get() + 1));
            Self
        }
    }

    fn install_hook() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let scanning = DEPTH.try_with(Cell::get).unwrap_or(0) > 0;
            if !scanning {
                previous(info);
            }
        }));
    }

    impl Drop for Scan {
        fn drop(&mut self) {
            DEPTH.with(|depth| depth.set(depth.get() - 1));
        }
    }
}
