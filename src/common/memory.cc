#include "ocsp_staple_exporter/common/memory.h"

#include <dlfcn.h>

#include <cstdlib>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ose {

void ReleaseFreeHeap() {
  // tcmalloc (the exporter links it; a benchmark may preload it) keeps its
  // own free lists: ask it by name, so that nothing here links it.
  using Release = void (*)();
  static const auto tcmalloc_release =
      reinterpret_cast<Release>(dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory"));
  static const auto tcmalloc_idle =
      reinterpret_cast<Release>(dlsym(RTLD_DEFAULT, "MallocExtension_MarkThreadIdle"));
  if (tcmalloc_release != nullptr) {
    // This thread's cache first (a scrape's buffers are freed on the thread
    // that rendered it), so that the spans it emptied can go back too.
    if (tcmalloc_idle != nullptr) tcmalloc_idle();
    tcmalloc_release();
    return;
  }
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace ose
