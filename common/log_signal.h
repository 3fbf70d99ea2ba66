#ifndef CFS_LOG_SIGNAL_H
#define CFS_LOG_SIGNAL_H
/* Run-time log level control by signal: after cfs_log_sigusr1_toggle(), each SIGUSR1 switches
 * the process between debug and info (from any other level it goes to debug). The handler
 * only stores the level (an atomic), so it is async-signal-safe. SIGUSR1 must not be blocked
 * in every thread. 0 or -errno. */
int cfs_log_sigusr1_toggle(void);

#endif
