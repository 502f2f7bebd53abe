// LD_PRELOAD shim: before main, makes the main executable's code inaccessible; the first touch of
// each 4 KiB page faults into the handler below, which opens that page again. Afterwards the
// executable's code pages that are r-x in /proc/PID/maps are the ones the process touched.
// The program's own SIGSEGV handlers (wasmtime's, std's) are kept behind this one.
// Preloaded into the profiled server by `cargo xtask hot-text` (xtask/src/hot_text.rs).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static unsigned long lo_text[16], hi_text[16];
static int ntext, armed;
static struct sigaction next_sa;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!real_sigaction) real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGSEGV || !armed) return real_sigaction(sig, act, old);
    if (old) *old = next_sa;
    if (act) next_sa = *act;
    return 0;
}
static void on_segv(int sig, siginfo_t *info, void *ctx) {
    unsigned long a = (unsigned long)info->si_addr;
    for (int i = 0; i < ntext; i++)
        if (a >= lo_text[i] && a < hi_text[i]) {
            mprotect((void *)(a & ~4095UL), 4096, PROT_READ | PROT_EXEC);
            return;
        }
    if (next_sa.sa_handler == SIG_DFL) {
        struct sigaction dfl; memset(&dfl, 0, sizeof dfl); dfl.sa_handler = SIG_DFL;
        real_sigaction(SIGSEGV, &dfl, 0);
    } else if (next_sa.sa_handler == SIG_IGN) {
    } else if (next_sa.sa_flags & SA_SIGINFO) {
        next_sa.sa_sigaction(sig, info, ctx);
    } else {
        next_sa.sa_handler(sig);
    }
}
__attribute__((constructor)) static void tracepages(void) {
    if (!real_sigaction) real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[8192];
    while (fgets(line, sizeof line, f) && ntext < 16) {
        unsigned long lo, hi; char perms[8]; char path[4096] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &lo, &hi, perms, path) < 3) continue;
        if (strcmp(path, exe) == 0 && perms[2] == 'x') { lo_text[ntext] = lo; hi_text[ntext] = hi; ntext++; }
    }
    fclose(f);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    real_sigaction(SIGSEGV, &sa, &next_sa);
    armed = 1;
    for (int i = 0; i < ntext; i++) mprotect((void *)lo_text[i], hi_text[i] - lo_text[i], PROT_NONE);
}
