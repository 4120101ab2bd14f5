/*
 * errors.c — names for the negative errno values gomap returns.
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
    case -EEXIST: return "already exists";
    case -ENOENT: return "not found";
    default:      return "unknown gomap error";
    }
}
