/*
 * errors.c — names for the negative errno values gomap returns.
 *
 * Every code a public function can return has a name here; a function that
 * starts returning a new code adds it here and to tests/unit/test_errors.c.
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
    case -EIO:    return "output error: writing to the stream failed";
    default:      return "unknown gomap error";
    }
}
