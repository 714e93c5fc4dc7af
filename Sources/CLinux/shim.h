// The Linux calls Swift's Glibc module does not import, for the system target alone.
#ifndef ROUTEPROBE_CLINUX_SHIM_H
#define ROUTEPROBE_CLINUX_SHIM_H

// setns(2) is declared by <sched.h> only under _GNU_SOURCE, and defining that here would give glibc types a
// different shape than Swift's Glibc module sees; so the one function and flag are declared directly.
extern int setns(int fd, int nstype);
#define ROUTEPROBE_CLONE_NEWNET 0x40000000

/// Joins the network namespace behind `fd` on the calling thread (setns with CLONE_NEWNET); -1 and errno on failure.
static inline int routeprobe_setns_network(int fd) { return setns(fd, ROUTEPROBE_CLONE_NEWNET); }

// sendmmsg(2) and recvmmsg(2), and struct mmsghdr, are declared only under _GNU_SOURCE. Including the system
// headers here would make this module own their types (timespec, MSG_*) instead of Glibc, so the message
// header is spelled out with plain C types in the layout of x86-64 and arm64 Linux, and the pointers the
// functions take are untyped.
struct routeprobe_msghdr {     // struct msghdr
    void *msg_name;
    unsigned int msg_namelen;
    void *msg_iov;
    unsigned long msg_iovlen;
    void *msg_control;
    unsigned long msg_controllen;
    int msg_flags;
};
struct routeprobe_mmsghdr {    // struct mmsghdr
    struct routeprobe_msghdr msg_hdr;
    unsigned int msg_len;        // bytes sent or received
};
_Static_assert(sizeof(struct routeprobe_mmsghdr) == 64, "struct mmsghdr is 64 bytes on 64-bit Linux");
extern int sendmmsg(int fd, struct routeprobe_mmsghdr *messages, unsigned int count, int flags);
extern int recvmmsg(int fd, struct routeprobe_mmsghdr *messages, unsigned int count, int flags, void *timeout);

// mallopt(3) is declared in <malloc.h>, which Swift's Glibc module does not include.
extern int mallopt(int param, int value);
#define ROUTEPROBE_M_ARENA_MAX (-8)

// malloc_trim(3), also in <malloc.h>: returns the free memory of every arena to the kernel.
extern int malloc_trim(unsigned long pad);

/// One malloc arena for every thread (M_ARENA_MAX 1); 1 on success.
static inline int routeprobe_use_one_malloc_arena(void) { return mallopt(ROUTEPROBE_M_ARENA_MAX, 1); }

// getauxval(3) is declared in <sys/auxv.h>, which Swift's Glibc module does not include; the two entries read.
extern unsigned long getauxval(unsigned long type);
#define ROUTEPROBE_AT_PHDR 3    // where the main program's program headers are mapped
#define ROUTEPROBE_AT_PHNUM 5   // how many there are

/// The main program's program headers and their count (the kernel's auxiliary vector).
static inline const void *routeprobe_program_headers(void) { return (const void *)getauxval(ROUTEPROBE_AT_PHDR); }
static inline unsigned long routeprobe_program_header_count(void) { return getauxval(ROUTEPROBE_AT_PHNUM); }

#endif
