/*
 * errors.c — names for the negative errno values gomap returns.
 *
 * Exactly the codes the library returns have a name here: 0, -ENOMEM,
 * -EINVAL, -EBUSY (gomap_shrink), -EFAULT (the validators), -EIO (the
 * dump and heatmap writers), -ENOENT (gomap_cache_ttl), -EAGAIN
 * (gomap_cache_new: its maintenance thread could not be started) and
 * -EDEADLK (gomap_shard_resize where it may not wait). A function that
 * starts returning a new code
 * adds it here, to the list at gomap_strerror in gomap/map.h and to
 * tests/unit/test_errors.c.
 */
#include <gomap/map.h>

#include <errno.h>

const char *gomap_strerror(int err)
{
    switch (err) {
    case 0:       return "success";
    case -ENOMEM: return "out of memory (the structure is unchanged)";
    case -EINVAL: return "invalid argument";
    case -EBUSY:  return "busy: an iterator over the map is live";
    case -EFAULT: return "structure failed validation";
    case -EIO:    return "output error: writing to the stream failed";
    case -ENOENT: return "no such entry (absent or expired)";
    case -EAGAIN: return "resource temporarily unavailable: a thread could not be started";
    case -EDEADLK: return "would deadlock: the call may not wait here (inside a callback)";
    default:      return "unknown gomap error";
    }
}
