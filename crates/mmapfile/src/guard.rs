//! The fault guard: a file that shrinks under a live map becomes an error, not `SIGBUS`.
//!
//! When a mapped file is truncated, the kernel removes the pages past the new end; touching
//! one raises `SIGBUS` (`BUS_ADRERR`), whose default action kills the process. This module
//! keeps the guard's registry and policy; every OS call it makes is a small primitive in
//! `sys/unix.rs`. It
//!
//! 1. installs one process-wide handler for the fault signals the first time a regular file
//!    is mapped, in one `sigaction` call that also returns the disposition it replaced (the
//!    first link of the *chain*);
//! 2. re-asserts itself whenever a file map is made or resized and whenever a truncation is
//!    reported: if another handler was installed since (Python's `faulthandler`, a C
//!    library, …), the guard goes back on top and that handler becomes the newest link of the
//!    chain, so signals that are not ours still reach it;
//! 3. keeps a lock-free registry of the live file mappings ([`Slot`]s in chunks that are
//!    never freed, so the handler can walk them without locks or allocation);
//! 4. in the handler, looks the faulting address up; if it lies in one of our mappings, it
//!    records the lowest vanished offset on that mapping (`Slot::gone`, before anything else,
//!    so a thread that reads the zero page already sees the mark), maps an anonymous zero
//!    page over the faulting page with `MAP_FIXED` (same protection, so the faulting
//!    instruction can complete) and returns. At the process's limit of mappings (Linux's
//!    `vm.max_map_count`) the zero page would need a new mapping: the guard keeps a few
//!    spare one-page mappings and gives two back first; if even that fails, the whole
//!    mapping becomes zeros and is reported gone from offset 0 (an error, never a death);
//! 5. hands every other signal down the chain, newest link first, as the kernel would have
//!    delivered it: the link's `sa_mask` blocked (and the signal itself unless
//!    `SA_NODEFER`), `SA_SIGINFO` or plain calling convention, `SA_RESETHAND` honoured,
//!    `SIG_IGN` ignoring a sent signal, `SIG_DFL` restoring the default (a real fault then
//!    repeats and kills as it would have, a sent signal is raised again). A link that passes
//!    the signal back to us (by calling its saved previous handler, or by restoring it and
//!    re-raising, as `faulthandler` does) reaches the next older link. A fault that repeats
//!    at the same address after a link returned goes to the next older link, so a link that
//!    has since been switched off cannot make a fault loop forever;
//! 6. treats a `SIGBUS` that this process sent itself while we are the installed handler and
//!    one of our maps' files is shorter than the map as the re-raise of our fault by a
//!    handler installed on top of us (`faulthandler` restores its predecessor, which is us,
//!    and raises again): it returns, the access faults again, now straight into the guard.
//!
//! What is guaranteed: with the guard on top when the fault happens (always, unless another
//! handler was installed after the last map was made or resized and does not pass the signal
//! on), a fault in a vanished page of our map is an error. A handler installed later that
//! does not pass the signal on, or `SIG_DFL` put back directly (`faulthandler.disable()`
//! when it was enabled before the first map), leaves the existing maps unguarded until the
//! next map is made or resized.
//!
//! The crate's door to mapped memory (`mem.rs`) reads [`Watch::gone_from`] before and after
//! each access: one relaxed atomic load each, nothing per byte.
//!
//! Setting the environment variable `MMAPFILE_NO_FAULT_GUARD` to anything but `0` or the
//! empty string before the first map is created turns the guard off for the whole process:
//! no handler is installed and nothing is registered.

use std::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
};

#[cfg(any(unix, windows))]
pub(crate) use imp::OsRegion;

/// The name of the environment variable that turns the guard off.
pub(crate) const OPT_OUT_VAR: &str = "MMAPFILE_NO_FAULT_GUARD";

/// `gone` when nothing has vanished.
const INTACT: usize = usize::MAX;

/// One registered mapping. Written only by the thread that owns the mapping, under a
/// sequence count so the handler never trusts a half-written range. A cache line each, so
/// registering one map never slows the hot-path reads of another's `gone`.
#[repr(align(64))]
pub(crate) struct Slot {
    /// Whether a mapping owns this slot.
    taken: AtomicBool,
    /// Odd while the owner rewrites the fields below.
    seq: AtomicUsize,
    /// The page-aligned OS mapping, `start..end` (end rounded up to a page).
    start: AtomicUsize,
    end: AtomicUsize,
    /// The address of the first byte the user sees (`start` + the alignment slack).
    user: AtomicUsize,
    /// The mapping's `PROT_*` bits, given to the zero pages too.
    prot: AtomicI32,
    /// The map's kept descriptor (-1 if none), where it starts in the file and how long
    /// it is: enough for the handler to tell, with `fstat`, whether the file shrank.
    fd: AtomicI32,
    file_offset: AtomicU64,
    user_len: AtomicUsize,
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
            fd: AtomicI32::new(-1),
            file_offset: AtomicU64::new(0),
            user_len: AtomicUsize::new(0),
            gone: AtomicUsize::new(INTACT),
        }
    }

    /// Publishes a new address range (the owner's mapping is not accessed meanwhile). The
    /// owner is the slot's only writer, so the count moves by plain stores (no locked
    /// read-modify-write); the release fence keeps the odd count before the fields.
    fn publish(&self, region: Region) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.start.store(region.start, Ordering::Relaxed);
        self.end.store(region.end, Ordering::Relaxed);
        self.user.store(region.user, Ordering::Relaxed);
        self.prot.store(region.prot, Ordering::Relaxed);
        self.fd.store(region.fd, Ordering::Relaxed);
        self.file_offset
            .store(region.file_offset, Ordering::Relaxed);
        self.user_len.store(region.user_len, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
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
            fd: self.fd.load(Ordering::Relaxed),
            file_offset: self.file_offset.load(Ordering::Relaxed),
            user_len: self.user_len.load(Ordering::Relaxed),
        };
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == before && region.end > region.start).then_some(region)
    }
}

/// A registered mapping as the handler needs it.
#[derive(Clone, Copy)]
struct Region {
    start: usize,
    end: usize,
    user: usize,
    prot: i32,
    fd: i32,
    file_offset: u64,
    user_len: usize,
}

impl Region {
    const EMPTY: Region = Region {
        start: 0,
        end: 0,
        user: 0,
        prot: 0,
        fd: -1,
        file_offset: 0,
        user_len: 0,
    };
}

/// A map's link to the guard: the slot it is registered in, or a shared slot that is never
/// registered (anonymous memory, empty maps, guard off), whose `gone` stays `INTACT`.
pub(crate) struct Watch {
    slot: &'static Slot,
    registered: bool,
    /// A regular file's map: the file's size bounds the bytes that exist (even when the
    /// guard is off, `flush` compares them).
    regular_file: bool,
}

/// The slot of every unguarded map: never in the registry, so nothing ever marks it.
static UNGUARDED: Slot = Slot::new();

/// Where a map lies and what the guard needs to know about it, for [`Watch::update`].
#[derive(Clone, Copy)]
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct MapFacts {
    /// The OS mapping, if it is a live mapping of a regular file.
    #[cfg(any(unix, windows))]
    pub region: Option<OsRegion>,
    /// The map's kept descriptor, if any.
    pub fd: Option<i32>,
    pub file_offset: u64,
    pub user_len: usize,
    /// Whether the map is of a regular file (even when empty or unguarded).
    pub regular_file: bool,
}

impl Watch {
    /// A watch that never reports anything.
    pub(crate) const fn none() -> Self {
        Self {
            slot: &UNGUARDED,
            registered: false,
            regular_file: false,
        }
    }

    /// The watch of a new map. Installs or re-asserts the handler for a file map; when the
    /// guard is off (opt-out, or the handler could not be installed), the watch reports no
    /// faults.
    pub(crate) fn new(facts: MapFacts) -> Self {
        let mut watch = Self::none();
        watch.update(facts);
        watch
    }

    /// Takes the range out of the registry while the mapping is being moved or replaced;
    /// [`update`](Self::update) puts the new one in.
    pub(crate) fn pause(&self) {
        if self.registered {
            self.slot.publish(Region::EMPTY);
        }
    }

    /// The mapping was made, moved, resized or replaced. `fresh`: the pages are all the
    /// file's again (a new mapping), so earlier marks are dropped; otherwise marks beyond the
    /// new length are dropped, as those pages are no longer part of the mapping.
    pub(crate) fn update(&mut self, facts: MapFacts) {
        self.regular_file = facts.regular_file;
        #[cfg(any(unix, windows))]
        {
            let Some(os) = facts.region else {
                self.pause();
                return;
            };
            if !ensure_installed() {
                return;
            }
            if !self.registered {
                self.slot = claim_slot();
                self.slot.gone.store(INTACT, Ordering::Relaxed);
                self.registered = true;
            }
            imp::reassert();
            let page = page_size();
            self.slot.publish(Region {
                start: os.start,
                end: os.start.saturating_add(os.os_len).saturating_add(page - 1) & !(page - 1),
                user: os.user,
                prot: os.prot,
                fd: facts.fd.unwrap_or(-1),
                file_offset: facts.file_offset,
                user_len: facts.user_len,
            });
            if self.slot.gone.load(Ordering::Relaxed) >= facts.user_len {
                self.slot.gone.store(INTACT, Ordering::Relaxed);
            }
        }
    }

    /// The map is a new mapping whose pages are all backed again: forget earlier marks.
    pub(crate) fn forget_marks(&self) {
        if self.registered {
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

    /// Whether a fault on this map was repaired with zero pages (or a vanished region was
    /// otherwise noted): the mapping no longer shows only the file.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn has_marks(&self) -> bool {
        self.gone_from() != INTACT
    }

    /// Records that the bytes from `offset` on are known to be gone (e.g. from the file's
    /// size). The mark only ever moves down. Also puts the guard back on top if another
    /// handler displaced it: a reported truncation is a moment to check.
    pub(crate) fn note_gone(&self, offset: usize) {
        if self.registered {
            self.slot.gone.fetch_min(offset, Ordering::SeqCst);
            #[cfg(any(unix, windows))]
            imp::reassert();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.release();
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

/// Every live registered mapping. Async-signal-safe.
#[cfg_attr(not(any(unix, windows)), allow(dead_code))]
fn live_slots() -> impl Iterator<Item = (&'static Slot, Region)> {
    chunks()
        .flat_map(|chunk| chunk.slots.iter())
        .filter_map(|slot| slot.read().map(|region| (slot, region)))
}

/// Finds a free slot, or adds a chunk for one.
#[cfg_attr(not(any(unix, windows)), allow(dead_code))]
fn claim_slot() -> &'static Slot {
    for chunk in chunks() {
        for slot in &chunk.slots {
            // A plain load first: only a free-looking slot costs a locked compare-exchange.
            if !slot.taken.load(Ordering::Relaxed)
                && slot
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

/// Where the one-time installation stands: [`NOT_INSTALLED`], [`INSTALLED`], or the id of
/// the process one of whose threads is installing. Not a `Once`: a child forked during the
/// installation has no thread to finish it, and must not wait for it forever (it sees its
/// parent's id and starts over).
static INSTALL_STATE: AtomicI64 = AtomicI64::new(NOT_INSTALLED);
const NOT_INSTALLED: i64 = 0;
const INSTALLED: i64 = -1;
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The page size, cached where the handler can read it without a syscall.
static PAGE: AtomicUsize = AtomicUsize::new(4096);

#[cfg_attr(not(any(unix, windows)), allow(dead_code))]
fn page_size() -> usize {
    PAGE.load(Ordering::Relaxed)
}

/// Whether the guard protects file maps in this process (it is installed with the first
/// one). Asking also puts the guard back on top if another handler displaced it.
pub(crate) fn active() -> bool {
    let active = ensure_installed();
    #[cfg(any(unix, windows))]
    if active {
        imp::reassert();
    }
    active
}

/// Whether the user turned the guard off with the environment variable.
fn opted_out() -> bool {
    std::env::var_os(OPT_OUT_VAR).is_some_and(|value| !value.is_empty() && value != "0")
}

fn ensure_installed() -> bool {
    loop {
        match INSTALL_STATE.load(Ordering::Acquire) {
            INSTALLED => return ACTIVE.load(Ordering::Acquire),
            NOT_INSTALLED => {
                let me = process_id();
                if INSTALL_STATE
                    .compare_exchange(NOT_INSTALLED, me, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    PAGE.store(crate::sys::page_size(), Ordering::Relaxed);
                    if !opted_out() {
                        ACTIVE.store(imp::install(), Ordering::Release);
                    }
                    INSTALL_STATE.store(INSTALLED, Ordering::Release);
                }
            }
            installer if installer != process_id() => {
                // Forked while a thread of the parent was installing: no thread here will
                // finish, so start over.
                let _ = INSTALL_STATE.compare_exchange(
                    installer,
                    NOT_INSTALLED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            _ => std::thread::yield_now(),
        }
    }
}

/// This process's id (a child of `fork()` has a new one).
fn process_id() -> i64 {
    #[cfg(unix)]
    return crate::sys::process_id();
    #[cfg(not(unix))]
    return 1;
}

#[cfg(unix)]
mod imp {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

    pub(crate) use crate::sys::OsRegion;
    use crate::sys::{self, Disposition, DispositionKind, SignalInfo, FAULT_SIGNALS};

    use super::{live_slots, page_size};

    /// How many handlers the chain of one signal remembers (the one before the guard and
    /// those installed on top of it since). When it is full, the guard no longer goes back
    /// on top of newcomers.
    const CHAIN_CAPACITY: usize = 16;

    /// The dispositions the guard covers for one signal, oldest first. Links are written
    /// once, under `EDIT`, before `len` publishes them; the handler only reads.
    struct Chain {
        links: [UnsafeCell<Option<Disposition>>; CHAIN_CAPACITY],
        /// Set when a `SA_RESETHAND` link was delivered: it acts as `SIG_DFL` from then on.
        reset: [AtomicBool; CHAIN_CAPACITY],
        len: AtomicUsize,
    }

    // SAFETY: a link is written only under `EDIT` while it is beyond `len` (invisible to
    // readers), then published with a release store of `len`, and never written again.
    unsafe impl Sync for Chain {}

    impl Chain {
        const fn new() -> Self {
            Self {
                links: [const { UnsafeCell::new(None) }; CHAIN_CAPACITY],
                reset: [const { AtomicBool::new(false) }; CHAIN_CAPACITY],
                len: AtomicUsize::new(0),
            }
        }

        /// Link `index` as the kernel would now deliver to it. Async-signal-safe.
        fn link(&self, index: usize) -> Disposition {
            if index >= self.len.load(Ordering::Acquire)
                || self.reset[index].load(Ordering::Acquire)
            {
                return Disposition::default_action();
            }
            // SAFETY: published links are never written again (see `Sync`).
            unsafe { (*self.links[index].get()).unwrap_or_else(Disposition::default_action) }
        }

        /// Adds the newest link; call under `EDIT`. False when full.
        fn push(&self, link: Disposition) -> bool {
            let len = self.len.load(Ordering::Relaxed);
            if len == CHAIN_CAPACITY {
                return false;
            }
            // SAFETY: `len` is unpublished, and `EDIT` excludes other writers.
            unsafe { *self.links[len].get() = Some(link) };
            self.len.store(len + 1, Ordering::Release);
            true
        }
    }

    static CHAINS: [Chain; FAULT_SIGNALS.len()] = [const { Chain::new() }; FAULT_SIGNALS.len()];
    /// Serialises installing and re-asserting (never taken in the handler).
    static EDIT: EditLock = EditLock(AtomicI64::new(0));

    /// A lock that a child of `fork()` never waits for on behalf of a thread it does not
    /// have: it holds the id of the holder's process (0 when free), and a holder from
    /// another process (the parent, at the moment of the fork) counts as gone. What it
    /// guards stays consistent at any instant (a chain link is published after it is
    /// written), so taking over from a vanished holder is safe.
    struct EditLock(AtomicI64);

    struct EditHeld(&'static EditLock);

    impl EditLock {
        fn try_lock(&'static self) -> Option<EditHeld> {
            let me = sys::process_id();
            let holder = match self
                .0
                .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(EditHeld(self)),
                Err(holder) => holder,
            };
            (holder != me
                && self
                    .0
                    .compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok())
            .then_some(EditHeld(self))
        }

        fn lock(&'static self) -> EditHeld {
            loop {
                if let Some(held) = self.try_lock() {
                    return held;
                }
                std::thread::yield_now();
            }
        }
    }

    impl Drop for EditHeld {
        fn drop(&mut self) {
            self.0 .0.store(0, Ordering::Release);
        }
    }
    /// Set while a disposition is being swapped and its link not yet recorded; the handler
    /// waits for it (only other threads can see it set: the installing thread blocks the
    /// signals meanwhile).
    static SWAPPING: AtomicBool = AtomicBool::new(false);

    fn chain_of(sig: libc::c_int) -> Option<&'static Chain> {
        FAULT_SIGNALS
            .iter()
            .position(|&s| s == sig)
            .map(|i| &CHAINS[i])
    }

    /// Installs the handler; false if the OS refused or the guard does not work here.
    pub(super) fn install() -> bool {
        if !sys::FAULT_GUARD_SUPPORTED {
            return false;
        }
        let _edit = EDIT.lock();
        let installed = FAULT_SIGNALS.iter().all(|&sig| take_over(sig).is_ok());
        replenish_spares();
        installed
    }

    /// Puts the guard back on top of any handler installed since, which becomes the newest
    /// link of the chain; refills the spare mappings. One `sigaction` read per signal and no
    /// lock in the common case (nothing displaced, no spare used).
    pub(super) fn reassert() {
        if !super::ACTIVE.load(Ordering::Acquire) {
            return;
        }
        // The common case, nothing displaced and no spare used, takes no lock.
        let displaced = FAULT_SIGNALS
            .iter()
            .any(|&sig| sys::current_disposition(sig).is_some_and(|now| !now.is(on_fault)));
        let spare_used = SPARE.iter().any(|spare| spare.load(Ordering::Relaxed) == 0);
        if !displaced && !spare_used {
            return;
        }
        // Another thread doing the same job is as good; and a child forked while a thread
        // held the lock must not wait for it forever.
        let Some(_edit) = EDIT.try_lock() else { return };
        for (sig, chain) in FAULT_SIGNALS.iter().zip(&CHAINS) {
            let displaced = sys::current_disposition(*sig).is_some_and(|now| !now.is(on_fault));
            if displaced && chain.len.load(Ordering::Relaxed) < CHAIN_CAPACITY {
                let _ = take_over(*sig);
            }
        }
        replenish_spares();
    }

    /// Installs the handler for `sig` in one call and records what it replaced. Under `EDIT`.
    fn take_over(sig: libc::c_int) -> std::io::Result<()> {
        let chain = chain_of(sig).expect("a fault signal");
        let _blocked = sys::FaultSignalsBlocked::new();
        SWAPPING.store(true, Ordering::SeqCst);
        let result = sys::install_handler(sig, on_fault).map(|previous| {
            // Our own handler (a fork's child inherits it) needs no link.
            if !previous.is(on_fault) {
                chain.push(previous);
            }
        });
        SWAPPING.store(false, Ordering::SeqCst);
        result
    }

    // ----- spare mappings for repairs at the mapping limit -----

    const SPARES: usize = 4;
    static SPARE: [AtomicUsize; SPARES] = [const { AtomicUsize::new(0) }; SPARES];

    fn replenish_spares() {
        for spare in &SPARE {
            if spare.load(Ordering::Relaxed) == 0 {
                match sys::reserve_spare_mapping() {
                    Some(addr) => spare.store(addr, Ordering::Release),
                    None => return,
                }
            }
        }
    }

    /// Gives back up to `count` spare mappings. Async-signal-safe.
    fn release_spares(count: usize) -> usize {
        let mut released = 0;
        for spare in &SPARE {
            if released == count {
                break;
            }
            let addr = spare.swap(0, Ordering::AcqRel);
            if addr != 0 {
                // SAFETY: each spare address is taken out of the table once, by this swap.
                unsafe { sys::release_spare_mapping(addr) };
                released += 1;
            }
        }
        released
    }

    // ----- per-thread state, without thread-locals (the handler may run anywhere) -----

    const THREAD_STATES: usize = 128;

    /// What the handler remembers about one thread: how deep it is in calls down the chain,
    /// which link it called last, and the last fault it passed on.
    struct ThreadState {
        thread: AtomicUsize,
        depth: AtomicUsize,
        link: AtomicUsize,
        last_fault: AtomicUsize,
        last_link: AtomicUsize,
    }

    static THREADS: [ThreadState; THREAD_STATES] = [const {
        ThreadState {
            thread: AtomicUsize::new(0),
            depth: AtomicUsize::new(0),
            link: AtomicUsize::new(0),
            last_fault: AtomicUsize::new(0),
            last_link: AtomicUsize::new(0),
        }
    }; THREAD_STATES];

    /// This thread's state, if it has one. Async-signal-safe.
    fn thread_state() -> Option<&'static ThreadState> {
        let me = sys::thread_id();
        THREADS
            .iter()
            .find(|s| s.thread.load(Ordering::Acquire) == me)
    }

    /// This thread's state, claimed on first use; `None` if the table is full.
    /// Async-signal-safe. Entries are kept for the life of the process (only threads that
    /// pass a signal on claim one, which is rare).
    fn claim_thread_state() -> Option<&'static ThreadState> {
        thread_state().or_else(|| {
            let me = sys::thread_id();
            THREADS.iter().find(|s| {
                s.thread
                    .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })
        })
    }

    /// How many self-sent signals were taken for re-raises since the last repair: bounds
    /// the (unlikely) case of a guess that was wrong.
    static RERAISES: AtomicUsize = AtomicUsize::new(0);

    /// The fault handler. Async-signal-safe: atomics and the `sys` primitives only; no
    /// allocation, no locks. Leaves `errno` as it found it.
    extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let _errno = sys::ErrnoSaved::new();
        let Some(chain) = chain_of(sig) else { return };
        // Bounded: a child forked in the middle of a swap would otherwise wait forever.
        for _ in 0..1 << 20 {
            if !SWAPPING.load(Ordering::Acquire) {
                break;
            }
            std::hint::spin_loop();
        }
        // SAFETY: the kernel hands a valid siginfo (or null) to a SA_SIGINFO handler.
        let signal = unsafe { sys::signal_info(sig, info) };
        let depth = thread_state().map_or(0, |s| s.depth.load(Ordering::Relaxed));
        if depth == 0 {
            if signal.vanished_page_fault && repair(signal.addr) {
                RERAISES.store(0, Ordering::Relaxed);
                return;
            }
            if signal.self_sent && is_reraise_of_ours(sig) {
                return;
            }
        }
        let state = claim_thread_state();
        // SAFETY: the handler's own arguments, unchanged.
        unsafe { pass_on(sig, chain, state, depth, signal, info, ctx) };
    }

    /// If `addr` is in one of our mappings, marks the mapping and maps a zero page over the
    /// faulting page. Returns whether it did.
    fn repair(addr: usize) -> bool {
        let page = page_size();
        let Some((slot, region)) = live_slots().find(|(_, r)| addr >= r.start && addr < r.end)
        else {
            return false;
        };
        let page_start = addr & !(page - 1);
        // Mark first, map second: another thread that reads the zero page must already see
        // the mark when it checks after its access.
        slot.gone
            .fetch_min(page_start.saturating_sub(region.user), Ordering::SeqCst);
        // SAFETY: the page lies inside a mapping this crate owns and registered (the
        // sequence check rules out a stale range); replacing it with zeros is what the guard
        // promises, and the crate reports every access that touched it.
        if unsafe { sys::map_zero_pages(page_start, page, region.prot) } {
            return true;
        }
        // At the mapping limit: splitting our mapping needs up to two more mappings.
        // SAFETY: as above.
        if release_spares(2) > 0 && unsafe { sys::map_zero_pages(page_start, page, region.prot) } {
            return true;
        }
        // Still no room: replace the whole mapping, which needs no split, and report all of
        // it gone (the mark first, as above).
        slot.gone.store(0, Ordering::SeqCst);
        // SAFETY: the whole registered range is ours, as above.
        unsafe { sys::map_zero_pages(region.start, region.end - region.start, region.prot) }
    }

    /// Whether a `SIGBUS` this process sent itself is a handler above us re-raising our
    /// fault: we are the installed handler again (it restored us) and one of our maps'
    /// files is now shorter than the map. Marks those maps. Async-signal-safe (`fstat`).
    fn is_reraise_of_ours(sig: libc::c_int) -> bool {
        if sig != libc::SIGBUS || !sys::current_disposition(sig).is_some_and(|d| d.is(on_fault)) {
            return false;
        }
        let mut truncated = false;
        for (slot, region) in live_slots() {
            if region.fd < 0 {
                continue;
            }
            let Some(size) = sys::raw_file_size(region.fd) else {
                continue;
            };
            let covered = size.saturating_sub(region.file_offset);
            if covered < region.user_len as u64 {
                slot.gone.fetch_min(covered as usize, Ordering::SeqCst);
                truncated = true;
            }
        }
        truncated && RERAISES.fetch_add(1, Ordering::Relaxed) < 64
    }

    /// Hands a signal that is not ours to the chain: the newest link, or the next older one
    /// when a link passed it back to us (`depth > 0`) or a fault repeats after a link
    /// returned.
    ///
    /// # Safety
    /// `info` and `ctx` are the handler's arguments, unchanged.
    unsafe fn pass_on(
        sig: libc::c_int,
        chain: &Chain,
        state: Option<&ThreadState>,
        depth: usize,
        signal: SignalInfo,
        info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        let newest = chain.len.load(Ordering::Acquire);
        let index = match state {
            // Passed back to us by the link we called: the next older one.
            Some(s) if depth > 0 => s.link.load(Ordering::Relaxed).checked_sub(1),
            // The same fault again after a link returned: that link did not fix it.
            Some(s) if signal.addr != 0 && s.last_fault.load(Ordering::Relaxed) == signal.addr => {
                s.last_link.load(Ordering::Relaxed).checked_sub(1)
            }
            _ => newest.checked_sub(1),
        };
        if let Some(s) = state {
            if depth == 0 {
                s.last_fault.store(signal.addr, Ordering::Relaxed);
                s.last_link.store(index.unwrap_or(0), Ordering::Relaxed);
            }
        }
        let link = index.map_or_else(Disposition::default_action, |i| chain.link(i));
        let sent = !signal.kernel_fault;
        match link.kind() {
            DispositionKind::Default => {
                // What the kernel does without a handler: a fault repeats when we return and
                // kills; a sent signal is raised again now.
                sys::reset_to_default(sig);
                if sent {
                    sys::raise_signal(sig);
                }
            }
            DispositionKind::Ignore => {
                if !sent {
                    // A real fault cannot be ignored: returning would fault again forever
                    // (the kernel itself kills in this case).
                    sys::reset_to_default(sig);
                }
            }
            DispositionKind::Handler => {
                let index = index.unwrap_or(0);
                if link.resets_on_delivery() {
                    chain.reset[index].store(true, Ordering::Release);
                }
                if let Some(s) = state {
                    let outer = s.link.swap(index, Ordering::Relaxed);
                    s.depth.fetch_add(1, Ordering::Relaxed);
                    // SAFETY: the caller's promise; the link is a handler for `sig`.
                    unsafe { link.call(sig, info, ctx) };
                    s.depth.fetch_sub(1, Ordering::Relaxed);
                    s.link.store(outer, Ordering::Relaxed);
                } else {
                    // SAFETY: as above.
                    unsafe { link.call(sig, info, ctx) };
                }
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

    use crate::sys::fault;
    pub(crate) use crate::sys::OsRegion;

    use super::live_slots;

    pub(super) fn install() -> bool {
        fault::install(repair)
    }

    /// Nothing to do: vectored handlers are all asked in turn, and one that does not claim a
    /// fault passes it on, so a handler added later cannot hide ours.
    pub(super) fn reassert() {}

    fn repair(addr: usize, write: bool) -> bool {
        let Some((slot, region)) =
            live_slots().find(|(_, region)| addr >= region.start && addr < region.end)
        else {
            return false;
        };
        if !fault::allows(region.prot, write) {
            return false;
        }
        // Mark first, replace second, as on Unix.
        slot.gone.fetch_min(0, Ordering::SeqCst);
        fault::zero_view(region.start, region.end - region.start, region.prot)
    }
}

#[cfg(not(any(unix, windows)))]
mod imp {
    /// The guard works on Unix systems and Windows only; elsewhere maps are unguarded.
    pub(super) fn install() -> bool {
        false
    }
}
