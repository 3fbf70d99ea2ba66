#ifndef CFS_ERRORS_H
#define CFS_ERRORS_H
/* Errors are values: functions return 0 (or a count) on success and a negative errno on
 * failure. Conditions errno has no name for use the project codes below (also negated). */

enum cfs_errcode {
    CFS_ENOTLEADER = 1001, /* this metaserver is not the Raft leader; see the leader hint */
    CFS_ESTALE_VER = 1002, /* chunk version mismatch (stale replica or stale write) */
    CFS_ECORRUPT = 1003,   /* checksum mismatch: data refused */
    CFS_ELEASE = 1004,     /* write lease missing, expired or held by another client */
    CFS_ETOKEN = 1005,     /* chunk access token expired: get a fresh one (bad ones: EACCES) */
    CFS_EAUTH = 1006,      /* cluster authentication failed */
    CFS_ECLUSTER = 1007,   /* wrong cluster id */
    CFS_ENOSERVERS = 1008, /* not enough live chunkservers for the requested placement */
};

/* Text for a negative errno or project code; never NULL, thread-safe. */
const char *cfs_strerror(int err);

/* Maps a project code to the closest POSIX errno for callers that only speak errno
 * (FUSE): e.g. -CFS_ECORRUPT -> -EIO. Plain errnos pass through unchanged. */
int cfs_err_to_posix(int err);

#endif
