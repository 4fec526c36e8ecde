//! The guest's allocator: a bump arena in static memory.
//!
//! Every evaluation runs in a fresh instance that is thrown away afterwards,
//! so memory never needs to be reused. A bump pointer over a static arena
//! costs a few instructions per allocation and touches only pages that are
//! part of the initial memory image, where the default allocator would
//! initialise itself and grow memory in every instance. Allocations that do
//! not fit fall back to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Enough for a request, a few host-call results and a decision; small enough
/// that stack, data and arena fit in the one 64 KiB page the host keeps resident.
const ARENA_BYTES: usize = 16 << 10;

#[repr(C, align(16))]
struct Arena {
    bytes: UnsafeCell<[u8; ARENA_BYTES]>,
    next: UnsafeCell<usize>,
}

// SAFETY: wasm32 guests are single-threaded; nothing else can observe the cells.
#[expect(unsafe_code, reason = "a global allocator is unsafe by contract")]
unsafe impl Sync for Arena {}

impl Arena {
    fn contains(&self, ptr: *mut u8) -> bool {
        let start = self.bytes.get() as usize;
        (start..start + ARENA_BYTES).contains(&(ptr as usize))
    }
}

#[expect(unsafe_code, reason = "a global allocator is unsafe by contract")]
// SAFETY: every pointer handed out is inside the arena, aligned as asked and
// never handed out twice; anything else comes from and goes back to `System`.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync`), so this is the only access.
        let next = unsafe { &mut *self.next.get() };
        let base = self.bytes.get() as usize;
        let start = (base + *next).next_multiple_of(layout.align());
        match start.checked_add(layout.size()) {
            Some(end) if end <= base + ARENA_BYTES => {
                *next = end - base;
                start as *mut u8
            }
            // SAFETY: forwarded with the caller's layout.
            _ => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.contains(ptr) {
            // SAFETY: not ours, so it came from `System.alloc` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static ARENA: Arena = Arena {
    bytes: UnsafeCell::new([0; ARENA_BYTES]),
    next: UnsafeCell::new(0),
};
