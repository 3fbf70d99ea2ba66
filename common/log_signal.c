/* SIGUSR1 toggles the log level between debug and info (see log_signal.h). */
#include "common/log_signal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "common/log.h"

static void on_sigusr1(int sig)
{
    (void)sig;
    cfs_log_set_level(cfs_log_get_level() == CFS_LOG_DEBUG ? CFS_LOG_INFO : CFS_LOG_DEBUG);
}

int cfs_log_sigusr1_toggle(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGUSR1, &sa, NULL) == 0 ? 0 : -errno;
}
