// Preloaded (LD_PRELOAD) into `vessel img` by the img tests: open() with
// O_DIRECT fails with EINVAL, as on a file system without direct I/O (tmpfs
// before Linux 6.6, some FUSE file systems), so that the error path of the
// cache modes none and directsync can be tested on any host.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdarg>

namespace {

using OpenFn = int (*)(const char*, int, ...);
using OpenAtFn = int (*)(int, const char*, int, ...);

mode_t mode_argument(int flags, va_list args) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? va_arg(args, mode_t) : 0;
}

template <typename Fn>
Fn next_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

#define NO_ODIRECT_OPEN(name)                             \
  extern "C" int name(const char* path, int flags, ...) { \
    va_list args;                                         \
    va_start(args, flags);                                \
    mode_t mode = mode_argument(flags, args);             \
    va_end(args);                                         \
    if ((flags & O_DIRECT) != 0) {                        \
      errno = EINVAL;                                     \
      return -1;                                          \
    }                                                     \
    return next_symbol<OpenFn>(#name)(path, flags, mode); \
  }

#define NO_ODIRECT_OPENAT(name)                                    \
  extern "C" int name(int dir, const char* path, int flags, ...) { \
    va_list args;                                                  \
    va_start(args, flags);                                         \
    mode_t mode = mode_argument(flags, args);                      \
    va_end(args);                                                  \
    if ((flags & O_DIRECT) != 0) {                                 \
      errno = EINVAL;                                              \
      return -1;                                                   \
    }                                                              \
    return next_symbol<OpenAtFn>(#name)(dir, path, flags, mode);   \
  }

NO_ODIRECT_OPEN(open)
NO_ODIRECT_OPEN(open64)
NO_ODIRECT_OPENAT(openat)
NO_ODIRECT_OPENAT(openat64)
