#pragma once
// Giving freed heap back to the operating system.

namespace ose {

/// Returns the free pages of the heap to the kernel: tcmalloc's
/// MallocExtension_ReleaseFreeMemory when tcmalloc is the malloc (the
/// exporter links it), else glibc's malloc_trim(0) (the top of each arena
/// is cut and whole free pages inside are madvise'd away); a no-op
/// elsewhere. An allocator keeps freed memory for
/// reuse, so a process that builds large short-lived buffers (a /metrics
/// scrape of 50,000 targets renders ~80 MB of text through ~40 buffers,
/// on whichever pool thread and arena ran it) would otherwise hold that
/// peak as RSS between scrapes. Costs a walk of the free lists (a few
/// milliseconds at 200 MB of heap) with each arena locked in turn; call it
/// after such work, not on a hot path. Thread-safe.
void ReleaseFreeHeap();

}  // namespace ose
