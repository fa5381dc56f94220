// Lets libremotemedia_ipc.so, built on Debian 12 (glibc 2.36), load into containers with an
// older glibc, down to 2.31 (Debian 11, the python:3.9-slim base image). The library links
// libstdc++ statically, and that (like our own code) refers to symbols that newer glibc
// versioned anew: the pthread functions moved into libc in 2.34, stat & co. became real
// symbols in 2.33, arc4random and __libc_single_threaded are new. The link redirects every
// reference to them (-Wl,--wrap=<name>, see ipc/CMakeLists.txt) to the functions below, which
// call the oldest versions, present in old and new glibc alike. `objdump -T` of the library
// must show no GLIBC version above 2.30; tests/unit/ipc checks that.
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

// The old versions by their exact symbol version.
extern "C" {
int rm_compat_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int rm_compat_pthread_join(pthread_t, void**);
int rm_compat_pthread_detach(pthread_t);
int rm_compat_pthread_once(pthread_once_t*, void (*)());
int rm_compat_pthread_key_create(pthread_key_t*, void (*)(void*));
int rm_compat___pthread_key_create(pthread_key_t*, void (*)(void*));
int rm_compat_pthread_key_delete(pthread_key_t);
void* rm_compat_pthread_getspecific(pthread_key_t);
int rm_compat_pthread_setspecific(pthread_key_t, const void*);
int rm_compat_pthread_cond_clockwait(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*);
int rm_compat___xstat(int, const char*, struct stat*);
int rm_compat___lxstat(int, const char*, struct stat*);
int rm_compat___fxstat(int, int, struct stat*);
}
__asm__(".symver rm_compat_pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_join,pthread_join@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_detach,pthread_detach@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_once,pthread_once@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_key_create,pthread_key_create@GLIBC_2.2.5");
__asm__(".symver rm_compat___pthread_key_create,__pthread_key_create@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_key_delete,pthread_key_delete@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_getspecific,pthread_getspecific@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_setspecific,pthread_setspecific@GLIBC_2.2.5");
__asm__(".symver rm_compat_pthread_cond_clockwait,pthread_cond_clockwait@GLIBC_2.30");
__asm__(".symver rm_compat___xstat,__xstat@GLIBC_2.2.5");
__asm__(".symver rm_compat___lxstat,__lxstat@GLIBC_2.2.5");
__asm__(".symver rm_compat___fxstat,__fxstat@GLIBC_2.2.5");

namespace {
constexpr int kStatVer = 1;  // _STAT_VER_LINUX on x86_64
}

extern "C" {

// Read by libstdc++ (>= 2.32 glibc) to skip atomics in single-threaded programs; 0 = always
// use atomics, which is what older glibc meant anyway.
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;

int __wrap_pthread_create(pthread_t* t, const pthread_attr_t* a, void* (*f)(void*), void* arg) {
  return rm_compat_pthread_create(t, a, f, arg);
}
int __wrap_pthread_join(pthread_t t, void** r) {
  return rm_compat_pthread_join(t, r);
}
int __wrap_pthread_detach(pthread_t t) {
  return rm_compat_pthread_detach(t);
}
int __wrap_pthread_once(pthread_once_t* o, void (*f)()) {
  return rm_compat_pthread_once(o, f);
}
int __wrap_pthread_key_create(pthread_key_t* k, void (*d)(void*)) {
  return rm_compat_pthread_key_create(k, d);
}
int __wrap___pthread_key_create(pthread_key_t* k, void (*d)(void*)) {
  return rm_compat___pthread_key_create(k, d);
}
int __wrap_pthread_key_delete(pthread_key_t k) {
  return rm_compat_pthread_key_delete(k);
}
void* __wrap_pthread_getspecific(pthread_key_t k) {
  return rm_compat_pthread_getspecific(k);
}
int __wrap_pthread_setspecific(pthread_key_t k, const void* v) {
  return rm_compat_pthread_setspecific(k, v);
}
int __wrap_pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                                  const struct timespec* abstime) {
  return rm_compat_pthread_cond_clockwait(c, m, clock, abstime);
}
int __wrap_stat(const char* path, struct stat* buf) {
  return rm_compat___xstat(kStatVer, path, buf);
}
int __wrap_stat64(const char* path, struct stat* buf) {
  return rm_compat___xstat(kStatVer, path, buf);
}
int __wrap_lstat(const char* path, struct stat* buf) {
  return rm_compat___lxstat(kStatVer, path, buf);
}
int __wrap_lstat64(const char* path, struct stat* buf) {
  return rm_compat___lxstat(kStatVer, path, buf);
}
int __wrap_fstat(int fd, struct stat* buf) {
  return rm_compat___fxstat(kStatVer, fd, buf);
}
int __wrap_fstat64(int fd, struct stat* buf) {
  return rm_compat___fxstat(kStatVer, fd, buf);
}

std::uint32_t __wrap_arc4random() {
  std::uint32_t v = 0;
  while (::syscall(SYS_getrandom, &v, sizeof v, 0) != static_cast<long>(sizeof v)) {
    if (errno != EINTR) break;
  }
  return v;
}

}  // extern "C"
