//! The fault guard: a file that shrinks under a live map becomes an error, not `SIGBUS`.
//!
//! When a mapped file is truncated, the kernel removes the pages past the new end; touching
//! one raises `SIGBUS` (`BUS_ADRERR`), whose default action kills the process. This module
//! is the only place in the crate that deals with signals. It
//!
//! 1. installs one process-wide `SIGBUS` handler, once, the first time a regular file is
//!    mapped (`SA_SIGINFO | SA_ONSTACK | SA_NODEFER`), remembering the disposition that was
//!    there before;
//! 2. keeps a lock-free registry of the live file mappings ([`Slot`]s in chunks that are
//!    never freed, so the handler can walk them without locks or allocation);
//! 3. in the handler, looks the faulting address up; if it lies in one of our mappings, it
//!    records the lowest vanished offset on that mapping (`Slot::gone`, before anything else,
//!    so a thread that reads the zero page already sees the mark), maps an anonymous zero
//!    page over the faulting page with `MAP_FIXED` (same protection, so the faulting
//!    instruction can complete) and returns; otherwise it hands the signal to the previous
//!    disposition: a `SA_SIGINFO` or plain handler is called; for `SIG_DFL` the default is
//!    restored, so a real fault repeats and kills the process as it would have and a sent
//!    signal is raised again; `SIG_IGN` ignores a sent signal and lets a real fault kill.
//!
//! The crate's door to mapped memory (`mem.rs`) reads [`Watch::gone_from`] before and after
//! each access: one relaxed atomic load each, nothing per byte.
//!
//! Setting the environment variable `MMAPFILE_NO_FAULT_GUARD` to anything but `0` or the
//! empty string before the first map is created turns the guard off for the whole process:
//! no handler is installed and nothing is registered.

use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering};

/// The name of the environment variable that turns the guard off.
pub(crate) const OPT_OUT_VAR: &str = "MMAPFILE_NO_FAULT_GUARD";

/// `gone` when nothing has vanished.
const INTACT: usize = usize::MAX;

/// One registered mapping. Written only by the thread that owns the mapping, under a
/// sequence count so the handler never trusts a half-written (start, end) pair. A cache line
/// each, so registering one map never slows the hot-path reads of another's `gone`.
#[repr(align(64))]
pub(crate) struct Slot {
    /// Whether a mapping owns this slot.
    taken: AtomicBool,
    /// Odd while the owner rewrites `start`, `end`, `user` and `prot`.
    seq: AtomicUsize,
    /// The page-aligned OS mapping, `start..end` (end rounded up to a page).
    start: AtomicUsize,
    end: AtomicUsize,
    /// The address of the first byte the user sees (`start` + the alignment slack).
    user: AtomicUsize,
    /// The mapping's `PROT_*` bits, given to the zero pages too.
    prot: AtomicI32,
    /// The lowest user-view offset known to have vanished, or `INTACT`.
    gone: AtomicUsize,
}

impl Slot {
    const fn new() -> Self {
        Self {
            taken: AtomicBool::new(false),
            seq: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            user: AtomicUsize::new(0),
            prot: AtomicI32::new(0),
            gone: AtomicUsize::new(INTACT),
        }
    }

    /// Publishes a new address range (the owner's mapping is not accessed meanwhile).
    fn publish(&self, region: Region) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        self.start.store(region.start, Ordering::Relaxed);
        self.end.store(region.end, Ordering::Relaxed);
        self.user.store(region.user, Ordering::Relaxed);
        self.prot.store(region.prot, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// The slot's range, if it is live and was not being rewritten while we read it.
    fn read(&self) -> Option<Region> {
        if !self.taken.load(Ordering::Acquire) {
            return None;
        }
        let before = self.seq.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let region = Region {
            start: self.start.load(Ordering::Relaxed),
            end: self.end.load(Ordering::Relaxed),
            user: self.user.load(Ordering::Relaxed),
            prot: self.prot.load(Ordering::Relaxed),
        };
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == before).then_some(region)
    }
}

/// An address range as the handler needs it.
#[derive(Clone, Copy)]
struct Region {
    start: usize,
    end: usize,
    user: usize,
    prot: i32,
}

/// A map's link to the guard: the slot it is registered in, or a shared slot that is never
/// registered (anonymous memory, empty maps, guard off), whose `gone` stays `INTACT`.
pub(crate) struct Watch {
    slot: &'static Slot,
    registered: bool,
    /// A regular file's map: the file's size bounds the bytes that exist (even when the
    /// guard is off, `flush` compares them).
    regular_file: bool,
    /// The mapping's protection, kept here because a paused slot forgets it.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    prot: i32,
}

/// The slot of every unguarded map: never in the registry, so nothing ever marks it.
static UNGUARDED: Slot = Slot::new();

impl Watch {
    /// A watch that never reports anything.
    pub(crate) const fn none() -> Self {
        Self {
            slot: &UNGUARDED,
            registered: false,
            regular_file: false,
            prot: 0,
        }
    }

    /// Registers a live mapping of a regular file: the OS mapping `start..start + os_len`,
    /// whose user view begins at `user`, mapped with `prot`. Installs the handler on first
    /// use. When the guard is off (opt-out, or the handler could not be installed), the
    /// watch reports no faults.
    pub(crate) fn register(start: usize, os_len: usize, user: usize, prot: i32) -> Self {
        if !ensure_installed() {
            return Self {
                regular_file: true,
                ..Self::none()
            };
        }
        let slot = claim_slot();
        slot.gone.store(INTACT, Ordering::Relaxed);
        slot.publish(Region::new(start, os_len, user, prot));
        Self {
            slot,
            registered: true,
            regular_file: true,
            prot,
        }
    }

    /// Takes the range out of the registry while the mapping is being moved (mremap);
    /// [`moved`](Self::moved) puts the new one in. Only where `mremap` exists.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    pub(crate) fn pause(&self) {
        if self.registered {
            self.slot.publish(Region::EMPTY);
        }
    }

    /// The mapping moved or changed length (mremap). Marks beyond `user_len` are dropped:
    /// those pages are no longer part of the mapping.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    pub(crate) fn moved(&self, start: usize, os_len: usize, user: usize, user_len: usize) {
        if !self.registered {
            return;
        }
        self.slot
            .publish(Region::new(start, os_len, user, self.prot));
        if self.slot.gone.load(Ordering::Relaxed) >= user_len {
            self.slot.gone.store(INTACT, Ordering::Relaxed);
        }
    }

    /// Takes the mapping out of the registry; call it before the memory is unmapped, so that
    /// no later mapping at the same address is mistaken for ours.
    pub(crate) fn release(&mut self) {
        if !std::mem::replace(&mut self.registered, false) {
            return;
        }
        // Empty the range before freeing the slot: whoever claims it next must not be seen
        // with our old addresses before it publishes its own.
        self.slot.publish(Region::EMPTY);
        self.slot.gone.store(INTACT, Ordering::Relaxed);
        self.slot.taken.store(false, Ordering::Release);
        self.slot = &UNGUARDED;
    }

    /// Whether this is a regular file's map, whose file size bounds the bytes that exist.
    pub(crate) fn is_regular_file(&self) -> bool {
        self.regular_file
    }

    /// The lowest user-view offset known to have vanished (`usize::MAX` while intact).
    /// One relaxed load: this is the hot-path check.
    #[inline]
    pub(crate) fn gone_from(&self) -> usize {
        self.slot.gone.load(Ordering::Relaxed)
    }

    /// Records that the bytes from `offset` on are known to be gone (e.g. from the file's
    /// size). The mark only ever moves down.
    pub(crate) fn note_gone(&self, offset: usize) {
        if self.registered {
            self.slot.gone.fetch_min(offset, Ordering::SeqCst);
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.release();
    }
}

impl Region {
    const EMPTY: Region = Region {
        start: 0,
        end: 0,
        user: 0,
        prot: 0,
    };

    fn new(start: usize, os_len: usize, user: usize, prot: i32) -> Self {
        let page = page_size();
        let end = start.saturating_add(os_len).saturating_add(page - 1) & !(page - 1);
        Self {
            start,
            end,
            user,
            prot,
        }
    }
}

// ----- the registry -----

const SLOTS_PER_CHUNK: usize = 64;

/// A fixed block of slots. Chunks are leaked on purpose: the handler may be walking one at
/// any moment, so they must live for the rest of the process.
struct Chunk {
    slots: [Slot; SLOTS_PER_CHUNK],
    next: AtomicPtr<Chunk>,
}

/// The newest chunk; each links to the one before.
static CHUNKS: AtomicPtr<Chunk> = AtomicPtr::new(std::ptr::null_mut());

/// Iterates over every chunk ever allocated. Async-signal-safe: only atomic loads.
fn chunks() -> impl Iterator<Item = &'static Chunk> {
    let mut next = CHUNKS.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        // SAFETY: chunk pointers come from `Box::leak` and are never freed, and a chunk is
        // fully built before it is published with a release store/CAS.
        let chunk: &'static Chunk = unsafe { next.as_ref()? };
        next = chunk.next.load(Ordering::Acquire);
        Some(chunk)
    })
}

/// Finds a free slot, or adds a chunk for one.
fn claim_slot() -> &'static Slot {
    for chunk in chunks() {
        for slot in &chunk.slots {
            if slot
                .taken
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return slot;
            }
        }
    }
    let chunk: &'static Chunk = Box::leak(Box::new(Chunk {
        slots: [const { Slot::new() }; SLOTS_PER_CHUNK],
        next: AtomicPtr::new(std::ptr::null_mut()),
    }));
    // Claimed before the chunk is visible, so no other thread can take it.
    chunk.slots[0].taken.store(true, Ordering::Relaxed);
    let mut head = CHUNKS.load(Ordering::Acquire);
    loop {
        chunk.next.store(head, Ordering::Relaxed);
        let new = chunk as *const Chunk as *mut Chunk;
        match CHUNKS.compare_exchange(head, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return &chunk.slots[0],
            Err(current) => head = current,
        }
    }
}

// ----- installation -----

static INSTALL: std::sync::Once = std::sync::Once::new();
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The page size, cached where the handler can read it without a syscall.
static PAGE: AtomicUsize = AtomicUsize::new(4096);

fn page_size() -> usize {
    PAGE.load(Ordering::Relaxed)
}

/// Whether the guard protects file maps in this process (it is installed with the first one).
pub(crate) fn active() -> bool {
    ensure_installed()
}

/// Whether the user turned the guard off with the environment variable.
fn opted_out() -> bool {
    std::env::var_os(OPT_OUT_VAR).is_some_and(|value| !value.is_empty() && value != "0")
}

fn ensure_installed() -> bool {
    INSTALL.call_once(|| {
        PAGE.store(crate::sys::page_size(), Ordering::Relaxed);
        if opted_out() {
            return;
        }
        ACTIVE.store(imp::install(), Ordering::Release);
    });
    ACTIVE.load(Ordering::Acquire)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::cell::UnsafeCell;
    use std::mem::MaybeUninit;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::{chunks, page_size};

    /// The disposition that was in place before ours, written once before ours is installed.
    struct Previous(UnsafeCell<MaybeUninit<libc::sigaction>>);
    // SAFETY: written once inside `INSTALL.call_once` before `PREVIOUS_SET` is released, and
    // only read after `PREVIOUS_SET` is seen; never written again.
    unsafe impl Sync for Previous {}
    static PREVIOUS: Previous = Previous(UnsafeCell::new(MaybeUninit::uninit()));
    static PREVIOUS_SET: AtomicBool = AtomicBool::new(false);

    /// Installs the handler; false if the OS refused.
    pub(super) fn install() -> bool {
        // SAFETY: sigaction with a null new action only reads the current disposition into
        // the cell, which nobody else reads before `PREVIOUS_SET` is set below.
        let rc =
            unsafe { libc::sigaction(libc::SIGBUS, ptr::null(), (*PREVIOUS.0.get()).as_mut_ptr()) };
        if rc != 0 {
            return false;
        }
        PREVIOUS_SET.store(true, Ordering::Release);
        // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags) that we fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        // SAFETY: sa_mask is a valid sigset_t inside `action`.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: installs our handler, which is async-signal-safe (see `on_sigbus`).
        unsafe { libc::sigaction(libc::SIGBUS, &action, ptr::null_mut()) == 0 }
    }

    /// The SIGBUS handler. Async-signal-safe: atomics, `mmap`, `sigaction` and `raise` only;
    /// no allocation, no locks. Saves and restores `errno`.
    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: `__errno_location` returns this thread's errno slot.
        let errno = unsafe { *libc::__errno_location() };
        // SAFETY: the kernel hands a valid siginfo to a SA_SIGINFO handler.
        let handled =
            unsafe { !info.is_null() && repair((*info).si_code, (*info).si_addr() as usize) };
        if !handled {
            // SAFETY: forwarded from the kernel unchanged.
            unsafe { chain(sig, info, ctx) };
        }
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = errno };
    }

    /// If `addr` is in one of our mappings and the signal is a real fault, marks the mapping
    /// and maps a zero page over the faulting page. Returns whether it did.
    fn repair(code: libc::c_int, addr: usize) -> bool {
        // Only kernel-generated bus errors at an address: a SIGBUS sent with kill/raise has
        // si_code <= 0 and no meaningful address.
        if code != libc::BUS_ADRERR {
            return false;
        }
        let page = page_size();
        for chunk in chunks() {
            for slot in &chunk.slots {
                let Some(region) = slot.read() else { continue };
                if addr < region.start || addr >= region.end {
                    continue;
                }
                let page_start = addr & !(page - 1);
                // Mark first, map second: another thread that reads the zero page must already
                // see the mark when it checks after its access.
                let gone = page_start.saturating_sub(region.user);
                slot.gone.fetch_min(gone, Ordering::SeqCst);
                // SAFETY: the page lies inside a mapping this crate owns and registered (the
                // sequence check rules out a stale range); replacing it with zeros is what the
                // guard promises, and the crate reports every access that touched it.
                let ptr = unsafe {
                    libc::mmap(
                        page_start as *mut libc::c_void,
                        page,
                        region.prot,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                        -1,
                        0,
                    )
                };
                return ptr != libc::MAP_FAILED;
            }
        }
        false
    }

    /// Hands a signal that is not ours to the disposition that was there before.
    ///
    /// # Safety
    /// `info` and `ctx` are the handler's arguments, unchanged.
    unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let user_sent = info.is_null() || {
            // SAFETY: non-null, from the kernel.
            unsafe { (*info).si_code <= 0 }
        };
        if !PREVIOUS_SET.load(Ordering::Acquire) {
            // SAFETY: restores the default action; see `die_by_default`.
            unsafe { die_by_default(sig, user_sent) };
            return;
        }
        // SAFETY: PREVIOUS_SET is set, so the cell was initialised and is never written again.
        let previous = unsafe { (*PREVIOUS.0.get()).assume_init_ref() };
        let handler = previous.sa_sigaction;
        if handler == libc::SIG_DFL {
            // SAFETY: see `die_by_default`.
            unsafe { die_by_default(sig, user_sent) };
        } else if handler == libc::SIG_IGN {
            if !user_sent {
                // A real fault cannot be ignored: returning would fault again forever (the
                // kernel itself kills in this case when no handler is installed).
                // SAFETY: see `die_by_default`.
                unsafe { die_by_default(sig, false) };
            }
        } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous owner installed this as a SA_SIGINFO handler, so it takes
            // these three arguments.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(handler) };
            f(sig, info, ctx);
        } else {
            // SAFETY: a plain handler installed without SA_SIGINFO takes the signal number.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
            f(sig);
        }
    }

    /// Restores the default action so the signal does what it would have done without us:
    /// a real fault re-executes when we return and kills the process; a sent signal is
    /// raised again now.
    ///
    /// # Safety
    /// Call only from the signal handler.
    unsafe fn die_by_default(sig: libc::c_int, user_sent: bool) {
        // SAFETY: a zeroed sigaction with SIG_DFL (0) is the default disposition.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = libc::SIG_DFL;
        // SAFETY: sigaction and raise are async-signal-safe.
        unsafe {
            libc::sigaction(sig, &action, ptr::null_mut());
            if user_sent {
                libc::raise(sig);
            }
        }
    }
}

/// Windows: a vectored exception handler (installed by `sys::fault`) asks here about each
/// read or write fault. A fault in one of our views marks the whole map (offset 0) and puts
/// zeros over the whole view: Windows cannot replace a single page of a view.
#[cfg(windows)]
mod imp {
    use std::sync::atomic::Ordering;

    use super::chunks;
    use crate::sys::fault;

    pub(super) fn install() -> bool {
        fault::install(repair)
    }

    fn repair(addr: usize, write: bool) -> bool {
        for chunk in chunks() {
            for slot in &chunk.slots {
                let Some(region) = slot.read() else { continue };
                if addr < region.start || addr >= region.end {
                    continue;
                }
                if !fault::allows(region.prot, write) {
                    return false;
                }
                // Mark first, replace second, as on Unix.
                slot.gone.fetch_min(0, Ordering::SeqCst);
                return fault::zero_view(region.start, region.end - region.start, region.prot);
            }
        }
        false
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
mod imp {
    /// The guard is implemented for Linux and Android only; elsewhere maps are unguarded.
    pub(super) fn install() -> bool {
        false
    }
}
